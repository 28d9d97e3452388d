package iac

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/glassbox-dev/glassbox/internal/compliance"
)

// Terraform resource types read.
const (
	tfEndpointConfig = "aws_sagemaker_endpoint_configuration"
	tfEndpoint       = "aws_sagemaker_endpoint"
	tfBucket         = "aws_s3_bucket"
	tfSSE            = "aws_s3_bucket_server_side_encryption_configuration"
	tfPAB            = "aws_s3_bucket_public_access_block"
	tfLifecycle      = "aws_s3_bucket_lifecycle_configuration"
	tfVersioning     = "aws_s3_bucket_versioning"
	tfKMSKey         = "aws_kms_key"
	tfKMSAlias       = "aws_kms_alias"
)

// tfResource is one resource of planned_values with what the plan's
// resource_changes and configuration add about it.
type tfResource struct {
	addr    string // full address, with module path and index
	cfg     string // address without instance indexes, as configuration names it
	module  string // "module.a.module.b." prefix of cfg ("" in the root)
	typ     string
	line    int
	values  *yaml.Node
	unknown *yaml.Node // change.after_unknown
	exprs   *yaml.Node // configuration expressions
}

// tfPlan indexes a plan's resources.
type tfPlan struct {
	res   []*tfResource
	byCfg map[string][]*tfResource
}

var tfIndex = regexp.MustCompile(`\[[^\]]*\]`)

// parseTerraform describes the endpoint configurations of a plan JSON and
// the S3 buckets none of them captures into.
func parseTerraform(file string, root *yaml.Node) ([]compliance.Subject, []Problem) {
	p := &tfPlan{byCfg: map[string][]*tfResource{}}
	changes := map[string]*yaml.Node{}
	for _, rc := range items(get(root, "resource_changes")) {
		a, _ := scalar(get(rc, "address"))
		changes[a] = path(rc, "change", "after_unknown")
	}
	exprs := map[string]*yaml.Node{}
	var walkCfg func(m *yaml.Node, prefix string)
	walkCfg = func(m *yaml.Node, prefix string) {
		for _, r := range items(get(m, "resources")) {
			a, _ := scalar(get(r, "address"))
			exprs[prefix+a] = get(r, "expressions")
		}
		pairs(get(m, "module_calls"), func(k, v *yaml.Node) {
			walkCfg(get(v, "module"), prefix+"module."+k.Value+".")
		})
	}
	walkCfg(path(root, "configuration", "root_module"), "")
	var walk func(m *yaml.Node)
	walk = func(m *yaml.Node) {
		for _, r := range items(get(m, "resources")) {
			if mode, _ := scalar(get(r, "mode")); mode == "data" {
				continue
			}
			a, _ := scalar(get(r, "address"))
			t, _ := scalar(get(r, "type"))
			cfg := tfIndex.ReplaceAllString(a, "")
			mod := ""
			if i := strings.LastIndex(cfg, "module."); i >= 0 {
				j := strings.IndexByte(cfg[i+len("module."):], '.')
				if j >= 0 {
					mod = cfg[:i+len("module.")+j+1]
				}
			}
			tr := &tfResource{addr: a, cfg: cfg, module: mod, typ: t, line: r.Line,
				values: get(r, "values"), unknown: changes[a], exprs: exprs[cfg]}
			p.res = append(p.res, tr)
			p.byCfg[cfg] = append(p.byCfg[cfg], tr)
		}
		for _, c := range items(get(m, "child_modules")) {
			walk(c)
		}
	}
	walk(path(root, "planned_values", "root_module"))

	buckets := map[*tfResource]*bucketFacts{}
	for _, r := range p.res {
		if r.typ == tfBucket {
			buckets[r] = p.bucket(r)
		}
	}
	for _, r := range p.res {
		b := p.bucketFor(r, buckets)
		if b == nil {
			continue
		}
		switch r.typ {
		case tfSSE:
			p.sse(r, b)
		case tfPAB:
			p.pab(r, b)
		case tfLifecycle:
			p.lifecycle(r, b)
		case tfVersioning:
			if s, _ := scalar(path(r.values, "versioning_configuration", "0", "status")); s == "Enabled" {
				b.immutable = compliance.Yes
			}
		}
	}
	configs := map[*tfResource]*configFacts{}
	for _, r := range p.res {
		if r.typ == tfEndpointConfig {
			c := p.config(r, buckets)
			if c.bucket != nil {
				c.bucket.linked = true
			}
			configs[r] = c
		}
	}
	// Endpoint configs, and buckets no config captures into, in plan
	// order.
	var subjects []compliance.Subject
	for _, r := range p.res {
		if c := configs[r]; c != nil {
			subjects = append(subjects, c.subject(file))
		} else if b := buckets[r]; b != nil && !b.linked {
			subjects = append(subjects, b.subject(file))
		}
	}
	return subjects, nil
}

// isUnknown reports whether after_unknown marks the value at keys.
func (r *tfResource) isUnknown(keys ...string) bool {
	s, _ := scalar(path(r.unknown, keys...))
	return isTrue(s)
}

// refs returns the configuration references of the expression at keys,
// as full configuration addresses of resources ("module.m.aws_x.y").
func (r *tfResource) refs(keys ...string) []string {
	var out []string
	for _, ref := range items(get(path(r.exprs, keys...), "references")) {
		s, _ := scalar(ref)
		parts := strings.Split(tfIndex.ReplaceAllString(s, ""), ".")
		if len(parts) >= 2 && parts[0] != "var" && parts[0] != "local" && parts[0] != "module" && parts[0] != "data" {
			out = append(out, r.module+parts[0]+"."+parts[1])
		}
	}
	return out
}

// refsType returns the first referenced resource of one of types.
func (p *tfPlan) refsType(r *tfResource, types []string, keys ...string) *tfResource {
	for _, a := range r.refs(keys...) {
		for _, t := range p.byCfg[a] {
			for _, want := range types {
				if t.typ == want {
					return t
				}
			}
		}
	}
	return nil
}

// str reads a string at keys; ok is false when absent, null or unknown.
func (r *tfResource) str(keys ...string) (string, bool) {
	return scalar(path(r.values, keys...))
}

// bucketFor finds the bucket a split S3 resource (or the bucket itself)
// configures: by the bucket name in its values, else by reference.
func (p *tfPlan) bucketFor(r *tfResource, buckets map[*tfResource]*bucketFacts) *bucketFacts {
	if b, ok := buckets[r]; ok {
		return b
	}
	if !strings.HasPrefix(r.typ, "aws_s3_bucket_") {
		return nil
	}
	if name, ok := r.str("bucket"); ok && name != "" {
		for _, b := range buckets {
			if b.name == name {
				return b
			}
		}
	}
	if t := p.refsType(r, []string{tfBucket}, "bucket"); t != nil {
		return buckets[t]
	}
	return nil
}

// kmsKind classifies the KMS key at keys of r and says why when unsure.
func (p *tfPlan) kmsKind(r *tfResource, keys ...string) (key, kind, why string, present bool) {
	if p.refsType(r, []string{tfKMSKey, tfKMSAlias}, keys...) != nil {
		k, _ := r.str(keys...)
		return or(k, "(from "+strings.Join(r.refs(keys...), ", ")+")"), compliance.EncryptionKMSCMK, "", true
	}
	if k, ok := r.str(keys...); ok && k != "" {
		return k, kmsKindOf(k), "", true
	}
	if r.isUnknown(keys...) {
		return "(known after apply)", compliance.EncryptionSSEKMS, "KMS key is known only after apply", true
	}
	return "", "", "", false
}

// bucket reads an aws_s3_bucket, including the inline blocks of AWS
// provider versions before 4.
func (p *tfPlan) bucket(r *tfResource) *bucketFacts {
	b := newBucket(r.addr)
	b.line = r.line
	b.name, _ = r.str("bucket")
	tfTags(b.tags, r)
	if on, _ := scalar(get(r.values, "object_lock_enabled")); isTrue(on) {
		b.immutable = compliance.Yes
	}
	if on, _ := r.str("versioning", "0", "enabled"); isTrue(on) {
		b.immutable = compliance.Yes
	}
	if acl, _ := r.str("acl"); acl == "public-read" || acl == "public-read-write" {
		b.public = compliance.Yes
		delete(b.unchecked, factPublic)
	}
	if get(r.values, "server_side_encryption_configuration") != nil {
		p.sseRules(r, b, []string{"server_side_encryption_configuration", "0", "rule"})
	}
	for _, rule := range items(get(r.values, "lifecycle_rule")) {
		on, _ := scalar(get(rule, "enabled"))
		d, _ := scalar(path(rule, "expiration", "0", "days"))
		n, _ := strconv.Atoi(d)
		if isTrue(on) && n > 0 {
			setRetention(b, n)
		}
	}
	return b
}

// sse reads an aws_s3_bucket_server_side_encryption_configuration.
func (p *tfPlan) sse(r *tfResource, b *bucketFacts) {
	p.sseRules(r, b, []string{"rule"})
}

func (p *tfPlan) sseRules(r *tfResource, b *bucketFacts, at []string) {
	for i := range items(path(r.values, at...)) {
		base := append(append([]string(nil), at...), strconv.Itoa(i), "apply_server_side_encryption_by_default", "0")
		alg, _ := r.str(append(base, "sse_algorithm")...)
		if !strings.HasPrefix(alg, "aws:kms") {
			if alg != "" {
				b.encryption = compliance.EncryptionSSES3
			}
			continue
		}
		key, kind, why, ok := p.kmsKind(r, append(base, "kms_master_key_id")...)
		if !ok {
			b.encryption = compliance.EncryptionSSEKMS
			continue
		}
		b.kmsKey, b.encryption = key, kind
		if why != "" {
			b.unchecked[factEncryption] = why
		}
	}
}

// pab reads an aws_s3_bucket_public_access_block.
func (p *tfPlan) pab(r *tfResource, b *bucketFacts) {
	for _, k := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
		if v, _ := scalar(get(r.values, k)); !isTrue(v) {
			return
		}
	}
	if b.public != compliance.Yes {
		b.public = compliance.No
		delete(b.unchecked, factPublic)
	}
}

// lifecycle reads an aws_s3_bucket_lifecycle_configuration.
func (p *tfPlan) lifecycle(r *tfResource, b *bucketFacts) {
	for _, rule := range items(get(r.values, "rule")) {
		st, _ := scalar(get(rule, "status"))
		d, _ := scalar(path(rule, "expiration", "0", "days"))
		if n, _ := strconv.Atoi(d); st == "Enabled" && n > 0 {
			setRetention(b, n)
		}
	}
}

func setRetention(b *bucketFacts, days int) {
	if b.retention != compliance.Yes || days < b.days {
		b.days = days
	}
	b.retention = compliance.Yes
	delete(b.unchecked, factRetention)
}

// config reads an aws_sagemaker_endpoint_configuration, the endpoint that
// uses it and its capture bucket.
func (p *tfPlan) config(r *tfResource, buckets map[*tfResource]*bucketFacts) *configFacts {
	c := newConfig(r.addr, r.line)
	cfgName, _ := r.str("name")
	if cfgName != "" {
		c.name = cfgName
	}
	tfTags(c.tags, r)
	for _, e := range p.res {
		if e.typ != tfEndpoint {
			continue
		}
		n, _ := e.str("endpoint_config_name")
		linked := n != "" && n == cfgName
		for _, a := range e.refs("endpoint_config_name") {
			linked = linked || a == r.cfg
		}
		if !linked {
			continue
		}
		c.name = e.addr
		if n, ok := e.str("name"); ok && n != "" {
			c.name = n
		}
		tfTags(c.tags, e)
		break
	}
	dc := "data_capture_config"
	if len(items(get(r.values, dc))) == 0 {
		if r.isUnknown(dc) {
			c.declared = true
			c.enabled = compliance.Unknown
			c.unchecked[factEnabled] = "data_capture_config is known only after apply"
			c.unchecked[factSampling] = c.unchecked[factEnabled]
			c.unchecked[factDestination] = c.unchecked[factEnabled]
		}
		return c
	}
	c.declared = true
	at := func(k string) []string { return []string{dc, "0", k} }
	switch v, ok := r.str(at("enable_capture")...); {
	case ok:
		c.enabled = compliance.FactOf(isTrue(v))
	case r.isUnknown(at("enable_capture")...):
		c.enabled = compliance.Unknown
		c.unchecked[factEnabled] = "enable_capture is known only after apply"
	default:
		c.enabled = compliance.Yes // the API default
	}
	if v, ok := r.str(at("initial_sampling_percentage")...); ok {
		c.sampling, _ = strconv.ParseFloat(v, 64)
	} else {
		c.unchecked[factSampling] = "initial_sampling_percentage is known only after apply"
	}
	if key, kind, why, ok := p.kmsKind(r, at("kms_key_id")...); ok {
		c.kmsKey, c.kmsKind = key, kind
		if why != "" {
			c.unchecked[factEncryption] = why
		}
	}
	dest, ok := r.str(at("destination_s3_uri")...)
	if ok {
		c.dest = dest
		if name, ok := destBucket(dest); ok {
			for _, br := range p.res {
				if b := buckets[br]; b != nil && b.name == name {
					c.bucket = b
					break
				}
			}
		}
	} else {
		c.dest = "(known after apply)"
	}
	if c.bucket == nil {
		if t := p.refsType(r, []string{tfBucket}, at("destination_s3_uri")...); t != nil {
			c.bucket = buckets[t]
			if !ok && c.bucket.name != "" {
				c.dest = "s3://" + c.bucket.name + "/(known after apply)"
			}
		}
	}
	if c.bucket == nil && !ok {
		c.unchecked[factDestination] = "destination_s3_uri is known only after apply and refers to no bucket in this plan"
	}
	return c
}

// tfTags adds a resource's tags_all (which includes provider default_tags)
// or else its tags to m.
func tfTags(m map[string]string, r *tfResource) {
	n := get(r.values, "tags_all")
	if n == nil || n.Kind != yaml.MappingNode {
		n = get(r.values, "tags")
	}
	pairs(n, func(k, v *yaml.Node) {
		s, _ := scalar(v)
		m[k.Value] = s
	})
}

package iac

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/glassbox-dev/glassbox/internal/compliance"
)

// CloudFormation resource types read.
const (
	cfnEndpointConfig = "AWS::SageMaker::EndpointConfig"
	cfnEndpoint       = "AWS::SageMaker::Endpoint"
	cfnBucket         = "AWS::S3::Bucket"
	cfnKMSKey         = "AWS::KMS::Key"
	cfnKMSAlias       = "AWS::KMS::Alias"
)

// cfnResource is one entry of a template's Resources section.
type cfnResource struct {
	id    string
	typ   string
	line  int
	props *yaml.Node
}

// cfnDoc is a parsed template: parameters and resources by logical id.
type cfnDoc struct {
	params    map[string]*yaml.Node // the parameter's declaration
	resources map[string]*cfnResource
	order     []string // logical ids in file order
}

// cfnValue is a property value after resolving what the template itself
// determines. Unresolved parts are rendered as ${Name} or ${Name.Attr}.
type cfnValue struct {
	text    string
	known   bool     // fully resolved to a literal
	present bool     // the property is given
	refs    []string // logical ids of resources referenced
	why     string   // why it is not known
}

// parseCFN describes the endpoint configurations of a template and the S3
// buckets none of them captures into.
func parseCFN(file string, root *yaml.Node) ([]compliance.Subject, []Problem) {
	d := &cfnDoc{params: map[string]*yaml.Node{}, resources: map[string]*cfnResource{}}
	pairs(get(root, "Parameters"), func(k, v *yaml.Node) { d.params[k.Value] = v })
	var problems []Problem
	pairs(get(root, "Resources"), func(k, v *yaml.Node) {
		t, ok := scalar(get(v, "Type"))
		if !ok {
			problems = append(problems, Problem{File: file, Line: k.Line, Message: fmt.Sprintf("resource %s has no Type", k.Value)})
			return
		}
		d.resources[k.Value] = &cfnResource{id: k.Value, typ: t, line: k.Line, props: get(v, "Properties")}
		d.order = append(d.order, k.Value)
	})

	buckets := map[string]*bucketFacts{}
	for _, id := range d.order {
		if r := d.resources[id]; r.typ == cfnBucket {
			buckets[id] = d.bucket(r)
		}
	}
	configs := map[string]*configFacts{}
	for _, id := range d.order {
		if r := d.resources[id]; r.typ == cfnEndpointConfig {
			c := d.config(r, buckets)
			if c.bucket != nil {
				c.bucket.linked = true
			}
			configs[id] = c
		}
	}
	// Endpoint configs, and buckets no config captures into, in file
	// order.
	var subjects []compliance.Subject
	for _, id := range d.order {
		if c := configs[id]; c != nil {
			subjects = append(subjects, c.subject(file))
		} else if b := buckets[id]; b != nil && !b.linked {
			subjects = append(subjects, b.subject(file))
		}
	}
	return subjects, problems
}

// eval resolves n as far as the template allows.
func (d *cfnDoc) eval(n *yaml.Node) cfnValue {
	n = deref(n)
	if n == nil {
		return cfnValue{}
	}
	fn, arg, ok := intrinsic(n)
	if !ok {
		if s, ok := scalar(n); ok {
			return cfnValue{text: s, known: true, present: true}
		}
		if n.Kind == yaml.ScalarNode { // null
			return cfnValue{}
		}
		return cfnValue{present: true, why: "not a scalar"}
	}
	switch fn {
	case "Ref":
		name, _ := scalar(arg)
		return d.ref(name)
	case "Fn::GetAtt":
		var parts []string
		if s, ok := scalar(arg); ok {
			parts = strings.SplitN(s, ".", 2)
		} else {
			for _, it := range items(arg) {
				s, _ := scalar(it)
				parts = append(parts, s)
			}
		}
		v := cfnValue{text: "${" + strings.Join(parts, ".") + "}", present: true, why: "a resource attribute, known after deployment"}
		if len(parts) > 0 {
			v.refs = []string{parts[0]}
		}
		return v
	case "Fn::Sub":
		return d.sub(arg)
	case "Fn::Join":
		it := items(arg)
		if len(it) != 2 {
			return cfnValue{present: true, text: "${Fn::Join}", why: "malformed Fn::Join"}
		}
		delim, _ := scalar(it[0])
		list := items(it[1])
		if list == nil {
			return cfnValue{present: true, text: "${Fn::Join}", why: "Fn::Join of a computed list"}
		}
		out := cfnValue{present: true, known: true}
		var texts []string
		for _, e := range list {
			v := d.eval(e)
			texts = append(texts, v.text)
			out.merge(v)
		}
		out.text = strings.Join(texts, delim)
		return out
	}
	return cfnValue{present: true, text: "${" + fn + "}", why: "given by " + fn}
}

// merge folds part v into a composite value.
func (out *cfnValue) merge(v cfnValue) {
	out.refs = append(out.refs, v.refs...)
	if !v.known {
		out.known = false
		if out.why == "" {
			out.why = v.why
		}
	}
}

// ref resolves a Ref to a parameter, a resource or a pseudo parameter.
func (d *cfnDoc) ref(name string) cfnValue {
	v := cfnValue{text: "${" + name + "}", present: true}
	if p, ok := d.params[name]; ok {
		if def, ok := scalar(get(p, "Default")); ok {
			return cfnValue{text: def, known: true, present: true}
		}
		v.why = "parameter " + name + " has no default"
		return v
	}
	if _, ok := d.resources[name]; ok {
		v.refs = []string{name}
		v.why = "resource " + name + ", known after deployment"
		return v
	}
	v.why = name + " is known only at deployment"
	return v
}

// sub resolves Fn::Sub in its string and [string, {vars}] forms.
func (d *cfnDoc) sub(arg *yaml.Node) cfnValue {
	s, ok := scalar(arg)
	var vars *yaml.Node
	if !ok {
		it := items(arg)
		if len(it) != 2 {
			return cfnValue{present: true, text: "${Fn::Sub}", why: "malformed Fn::Sub"}
		}
		s, _ = scalar(it[0])
		vars = it[1]
	}
	out := cfnValue{present: true, known: true}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		name := s[i+2 : i+j]
		s = s[i+j+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			b.WriteString("${" + lit + "}")
			continue
		}
		var v cfnValue
		switch {
		case get(vars, name) != nil:
			v = d.eval(get(vars, name))
		case strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::"):
			res, _, _ := strings.Cut(name, ".")
			v = cfnValue{text: "${" + name + "}", present: true, refs: []string{res}, why: "a resource attribute, known after deployment"}
		default:
			v = d.ref(name)
		}
		b.WriteString(v.text)
		out.merge(v)
	}
	out.text = b.String()
	return out
}

// intrinsic recognises a CloudFormation function in short (!Ref x) or long
// ({"Ref": x}) form and returns its long name and argument.
func intrinsic(n *yaml.Node) (string, *yaml.Node, bool) {
	if isCustomTag(n.Tag) {
		name := strings.TrimPrefix(n.Tag, "!")
		if name != "Ref" && name != "Condition" {
			name = "Fn::" + name
		}
		arg := *n
		arg.Tag = ""
		switch arg.Kind {
		case yaml.ScalarNode:
			arg.Tag = "!!str"
		case yaml.SequenceNode:
			arg.Tag = "!!seq"
		case yaml.MappingNode:
			arg.Tag = "!!map"
		}
		return name, &arg, true
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, deref(n.Content[1]), true
		}
	}
	return "", nil, false
}

// refsType returns the first referenced resource of type typ.
func (d *cfnDoc) refsType(v cfnValue, types ...string) *cfnResource {
	for _, id := range v.refs {
		if r, ok := d.resources[id]; ok {
			for _, t := range types {
				if r.typ == t {
					return r
				}
			}
		}
	}
	return nil
}

// kmsKind classifies a KMS key property value and says why when unsure.
func (d *cfnDoc) kmsKind(v cfnValue) (kind, why string) {
	switch {
	case d.refsType(v, cfnKMSKey, cfnKMSAlias) != nil:
		return compliance.EncryptionKMSCMK, ""
	case v.known:
		return kmsKindOf(v.text), ""
	}
	return compliance.EncryptionSSEKMS, "KMS key " + v.text + " cannot be resolved: " + v.why
}

// bucket reads the facts of an AWS::S3::Bucket.
func (d *cfnDoc) bucket(r *cfnResource) *bucketFacts {
	b := newBucket(r.id)
	b.line = r.line
	p := r.props
	d.tags(b.tags, get(p, "Tags"))
	if v := d.eval(get(p, "BucketName")); v.known {
		b.name = v.text
	}
	for _, rule := range items(get(get(p, "BucketEncryption"), "ServerSideEncryptionConfiguration")) {
		def := get(rule, "ServerSideEncryptionByDefault")
		alg := d.eval(get(def, "SSEAlgorithm"))
		switch {
		case !alg.known:
			b.encryption = ""
			b.unchecked[factEncryption] = "SSEAlgorithm: " + alg.why
		case strings.HasPrefix(alg.text, "aws:kms"):
			key := d.eval(get(def, "KMSMasterKeyID"))
			if !key.present {
				b.encryption = compliance.EncryptionSSEKMS // the AWS-managed aws/s3 key
				continue
			}
			b.kmsKey = key.text
			kind, why := d.kmsKind(key)
			b.encryption = kind
			if why != "" {
				b.unchecked[factEncryption] = why
			}
		default:
			b.encryption = compliance.EncryptionSSES3
		}
	}
	pab := get(p, "PublicAccessBlockConfiguration")
	all := pab != nil
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if v := d.eval(get(pab, k)); !v.known || !isTrue(v.text) {
			all = false
		}
	}
	acl := d.eval(get(p, "AccessControl"))
	switch {
	case all:
		b.public = compliance.No
		delete(b.unchecked, factPublic)
	case acl.known && (acl.text == "PublicRead" || acl.text == "PublicReadWrite"):
		b.public = compliance.Yes
		delete(b.unchecked, factPublic)
	}
	for _, rule := range items(get(get(p, "LifecycleConfiguration"), "Rules")) {
		st := d.eval(get(rule, "Status"))
		days := d.eval(get(rule, "ExpirationInDays"))
		if st.known && st.text != "Enabled" {
			continue
		}
		n, err := strconv.Atoi(days.text)
		if !days.known || err != nil || n <= 0 {
			if days.present && !days.known && b.retention != compliance.Yes {
				b.retention = compliance.Unknown
				b.unchecked[factRetention] = "ExpirationInDays: " + days.why
			}
			continue
		}
		if b.retention != compliance.Yes || n < b.days {
			b.days = n
		}
		b.retention = compliance.Yes
		delete(b.unchecked, factRetention)
	}
	ver := d.eval(get(get(p, "VersioningConfiguration"), "Status"))
	lock := d.eval(get(p, "ObjectLockEnabled"))
	if (ver.known && ver.text == "Enabled") || (lock.known && isTrue(lock.text)) {
		b.immutable = compliance.Yes
	}
	return b
}

// config reads an AWS::SageMaker::EndpointConfig, links its capture bucket
// and the endpoint that uses it.
func (d *cfnDoc) config(r *cfnResource, buckets map[string]*bucketFacts) *configFacts {
	c := newConfig(r.id, r.line)
	p := r.props
	if v := d.eval(get(p, "EndpointConfigName")); v.known {
		c.name = v.text
	}
	d.tags(c.tags, get(p, "Tags"))
	if ep := d.endpointOf(r.id); ep != nil {
		c.name = ep.id
		if v := d.eval(get(ep.props, "EndpointName")); v.known {
			c.name = v.text
		}
		d.tags(c.tags, get(ep.props, "Tags"))
	}
	dc := get(p, "DataCaptureConfig")
	if dc == nil {
		return c
	}
	c.declared = true
	if fn, _, ok := intrinsic(dc); ok {
		c.enabled = compliance.Unknown
		c.unchecked[factEnabled] = "DataCaptureConfig is given by " + fn
		c.unchecked[factSampling] = c.unchecked[factEnabled]
		c.unchecked[factDestination] = c.unchecked[factEnabled]
		return c
	}
	switch v := d.eval(get(dc, "EnableCapture")); {
	case !v.present:
		c.enabled = compliance.Yes // the API default
	case v.known:
		c.enabled = compliance.FactOf(isTrue(v.text))
	default:
		c.enabled = compliance.Unknown
		c.unchecked[factEnabled] = "EnableCapture: " + v.why
	}
	if v := d.eval(get(dc, "InitialSamplingPercentage")); v.known {
		f, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			c.unchecked[factSampling] = "InitialSamplingPercentage: not a number: " + v.text
		}
		c.sampling = f
	} else {
		c.unchecked[factSampling] = "InitialSamplingPercentage: " + or(v.why, "not given")
	}
	if v := d.eval(get(dc, "KmsKeyId")); v.present {
		c.kmsKey = v.text
		kind, why := d.kmsKind(v)
		c.kmsKind = kind
		if why != "" {
			c.unchecked[factEncryption] = why
		}
	}
	dest := d.eval(get(dc, "DestinationS3Uri"))
	c.dest = dest.text
	bname, ok := destBucket(dest.text)
	switch {
	case !dest.present:
		c.unchecked[factDestination] = "DestinationS3Uri is not given"
	case !ok:
		c.unchecked[factDestination] = "DestinationS3Uri " + dest.text + " cannot be resolved: " + or(dest.why, "not an s3:// URI")
	default:
		if id, ok := strings.CutPrefix(bname, "${"); ok && strings.HasSuffix(id, "}") {
			c.bucket = buckets[strings.TrimSuffix(id, "}")]
		}
		for _, id := range d.order {
			if b := buckets[id]; c.bucket == nil && b != nil && b.name != "" && b.name == bname {
				c.bucket = b
			}
		}
		if c.bucket == nil && !dest.known {
			c.unchecked[factDestination] = "capture bucket " + bname + " cannot be resolved to a bucket in this file: " + dest.why
		}
	}
	return c
}

// endpointOf returns the first AWS::SageMaker::Endpoint (by logical id)
// whose EndpointConfigName refers to the config with logical id cfg.
func (d *cfnDoc) endpointOf(cfg string) *cfnResource {
	ids := append([]string(nil), d.order...)
	sort.Strings(ids)
	for _, id := range ids {
		r := d.resources[id]
		if r.typ != cfnEndpoint {
			continue
		}
		v := d.eval(get(r.props, "EndpointConfigName"))
		for _, ref := range v.refs {
			if ref == cfg {
				return r
			}
		}
		if v.known && v.text != "" && v.text == d.eval(get(d.resources[cfg].props, "EndpointConfigName")).text {
			return r
		}
	}
	return nil
}

// tags adds a CloudFormation Tags list [{Key, Value}] to m.
func (d *cfnDoc) tags(m map[string]string, n *yaml.Node) {
	for _, t := range items(n) {
		k := d.eval(get(t, "Key"))
		if !k.known {
			continue
		}
		m[k.text] = d.eval(get(t, "Value")).text
	}
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the field path, such as endpoints[0].variants[1].upstream, or
	// "" when the problem concerns the document as a whole.
	Path string
	// Message says what is wrong; decoding problems end with the line, as
	// in "unknown key (line 14)".
	Message string
}

// String formats the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem found in a configuration. Parse and
// Validate return it as a value; errors.As accepts a target of type
// *ValidationError or **ValidationError.
type ValidationError struct {
	Problems []Problem
}

// Error returns the problems one per line, each as "path: message".
func (e ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid configuration"
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// As lets errors.As fill a *ValidationError target as well as a
// ValidationError one.
func (e ValidationError) As(target any) bool {
	if p, ok := target.(**ValidationError); ok {
		*p = &e
		return true
	}
	return false
}

// Limits and patterns, most of them SageMaker's.
const (
	maxNameLen         = 63  // endpoint and variant names
	maxContentTypes    = 10  // per content-type list
	maxContentTypeLen  = 256 // per content type
	maxTags            = 50  // per endpoint
	maxTagKeyLen       = 128 // characters
	maxTagValueLen     = 256 // characters
	maxObjectSecondsHi = 3600

	minSpoolMaxBytes      = MiB
	minSpoolSegmentBytes  = 64 * KiB
	maxSpoolFsyncInterval = Duration(10 * time.Second)

	minBucketLen = 3    // S3 bucket names
	maxBucketLen = 63   //
	maxPrefixLen = 1024 // bytes; S3's object key limit
	maxKMSKeyLen = 2048 // characters
)

var (
	nameRE        = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9])*$`)
	contentTypeRE = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9])*/[a-zA-Z0-9](-*[a-zA-Z0-9.])*$`)
	tagRE         = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	schemeRE      = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*$`)
	kmsKeyRE      = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)
)

// problems collects validation problems.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Validate checks every rule documented on the schema's fields and returns
// a ValidationError listing all problems, or nil. It treats a nil
// Capture.Enabled or Capture.SamplingPercent as its default, but a nil list
// as empty and an empty string (such as Capture.OnSpoolFull) as invalid: call
// Endpoint.ApplyDefaults first on endpoints built in code.
func (c *Config) Validate() error {
	var ps problems
	c.Server.validate(&ps)
	c.Storage.validate(&ps)
	c.Log.validate(&ps)
	names := make(map[string]int, len(c.Endpoints))
	for i := range c.Endpoints {
		e := &c.Endpoints[i]
		path := fmt.Sprintf("endpoints[%d]", i)
		e.validate(&ps, path)
		if e.Name == "" {
			continue
		}
		if j, dup := names[e.Name]; dup {
			ps.add(path+".name", "duplicate endpoint name %s (also endpoints[%d].name)", quote(e.Name), j)
			continue
		}
		names[e.Name] = i
	}
	c.Policies.validate(&ps)
	validateRoles(c.Roles, &ps)
	c.OIDC.validate(c.Roles, &ps)
	c.Monitoring.validate(&ps)
	c.Keys.validate(&ps)       // keys.go
	c.Compliance.validate(&ps) // compliance.go
	c.Cost.validate(&ps)       // cost.go
	checkMetadataURL(c.Storage.Metadata, &ps)
	if len(ps) == 0 {
		for i := range c.Endpoints {
			ps = append(ps, c.Policies.CheckPolicies(&c.Endpoints[i], fmt.Sprintf("endpoints[%d]", i))...)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return ValidationError{Problems: ps}
}

func checkMetadataURL(u string, ps *problems) {
	switch {
	case u == "":
	case strings.HasPrefix(u, "sqlite://"):
		if strings.TrimPrefix(u, "sqlite://") == "" {
			ps.add("storage.metadata", "sqlite:// needs a file path, e.g. sqlite:///var/lib/glassbox/glassbox.db")
		}
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		if _, err := url.Parse(u); err != nil {
			ps.add("storage.metadata", "not a valid postgres:// URL: %v", err)
		}
	default:
		ps.add("storage.metadata", "%s: want sqlite:///path/glassbox.db or postgres://user@host/db", quote(u))
	}
}

func (s *Server) validate(ps *problems) {
	if err := checkListen(s.Listen); err != nil {
		ps.add("server.listen", "%v", err)
	}
	positive(ps, "server.read_header_timeout", s.ReadHeaderTimeout)
	positive(ps, "server.idle_timeout", s.IdleTimeout)
	positive(ps, "server.shutdown_timeout", s.ShutdownTimeout)
	atLeast(ps, "server.max_body_bytes", s.MaxBodyBytes, 1)
	s.TLS.validate(ps, "server.tls")
}

func (s *Storage) validate(ps *problems) {
	scheme, err := checkBlob(s.Blob)
	if err != nil {
		ps.add("storage.blob", "%v", err)
	}
	if s.Spool == "" {
		ps.add("storage.spool", "must not be empty")
	}
	if s.QueueMaxRecords < 1 {
		ps.add("storage.queue_max_records", "must be at least 1, got %d", s.QueueMaxRecords)
	}
	atLeast(ps, "storage.queue_max_bytes", s.QueueMaxBytes, MiB)

	atLeast(ps, "storage.spool_max_bytes", s.SpoolMaxBytes, minSpoolMaxBytes)
	switch {
	case s.SpoolSegmentBytes < minSpoolSegmentBytes:
		atLeast(ps, "storage.spool_segment_bytes", s.SpoolSegmentBytes, minSpoolSegmentBytes)
	case s.SpoolMaxBytes >= minSpoolMaxBytes && s.SpoolSegmentBytes > s.SpoolMaxBytes:
		// An invalid spool_max_bytes has a problem of its own; comparing
		// with it as well would only add noise.
		ps.add("storage.spool_segment_bytes", "must be at most storage.spool_max_bytes (%v), got %v",
			s.SpoolMaxBytes, s.SpoolSegmentBytes)
	}
	switch d := s.SpoolFsyncInterval; {
	case d <= 0:
		positive(ps, "storage.spool_fsync_interval", d)
	case d > maxSpoolFsyncInterval:
		ps.add("storage.spool_fsync_interval", "must be at most %v, got %v", maxSpoolFsyncInterval, d)
	}

	s.S3.validate(ps, "storage.s3", scheme)
}

// validate checks the s3 section. blobScheme is storage.blob's scheme, ""
// when it is neither file nor s3. With a file:// blob every key that differs
// from its default is a problem of its own and the keys' rules are not
// checked; otherwise they are, even when the blob URL itself is invalid.
func (s *S3) validate(ps *problems, path, blobScheme string) {
	if blobScheme == BlobSchemeFile {
		d := Default().Storage.S3
		for _, f := range []struct {
			key string
			set bool
		}{
			{"endpoint", s.Endpoint != d.Endpoint},
			{"region", s.Region != d.Region},
			{"path_style", s.PathStyle != d.PathStyle},
			{"sse", s.SSE != d.SSE},
			{"kms_key_id", s.KMSKeyID != d.KMSKeyID},
		} {
			if f.set {
				ps.add(path+"."+f.key, "storage.s3 applies only to s3:// blob stores, but storage.blob is a file:// URL")
			}
		}
		return
	}
	if s.Endpoint != "" {
		if err := checkHTTPURL(s.Endpoint); err != nil {
			ps.add(path+".endpoint", "%v", err)
		}
	}
	oneOf(ps, path+".sse", s.SSE, SSENone, SSEAES256, SSEKMS)
	switch n := utf8.RuneCountInString(s.KMSKeyID); {
	case n == 0:
	case s.SSE != SSEKMS:
		ps.add(path+".kms_key_id", "applies only with sse: %s, but sse is %s", SSEKMS, quote(s.SSE))
	case n > maxKMSKeyLen:
		ps.add(path+".kms_key_id", "is %d characters long; the maximum is %d", n, maxKMSKeyLen)
	case !kmsKeyRE.MatchString(s.KMSKeyID):
		ps.add(path+".kms_key_id", "invalid KMS key %s: want a key id, key ARN, alias/name or alias ARN, of letters, digits and :/_-", quote(s.KMSKeyID))
	}
}

func (l *Log) validate(ps *problems) {
	oneOf(ps, "log.level", l.Level, "debug", "info", "warn", "error")
	oneOf(ps, "log.format", l.Format, "text", "json")
}

func (e *Endpoint) validate(ps *problems, path string) {
	checkName(ps, path+".name", e.Name)
	checkEndpointNameReserved(ps, path+".name", e.Name)
	if e.Auth != AuthNone && e.Auth != AuthToken {
		ps.add(path+".auth", "invalid value %s: want one of none, token", quote(e.Auth))
	}
	e.validateTags(ps, path+".tags")

	if len(e.Variants) == 0 {
		ps.add(path+".variants", "at least one variant is required")
	}
	names := make(map[string]int, len(e.Variants))
	anyWeight := false
	for i := range e.Variants {
		v := &e.Variants[i]
		vpath := fmt.Sprintf("%s.variants[%d]", path, i)
		v.validate(ps, vpath)
		if v.Weight > 0 && !math.IsInf(v.Weight, 0) {
			anyWeight = true
		}
		if v.Name == "" {
			continue
		}
		if j, dup := names[v.Name]; dup {
			ps.add(vpath+".name", "duplicate variant name %s (also %s.variants[%d].name)", quote(v.Name), path, j)
			continue
		}
		names[v.Name] = i
	}
	if len(e.Variants) > 0 && !anyWeight {
		ps.add(path+".variants", "at least one variant must have a weight greater than 0")
	}

	e.Capture.validate(ps, path+".capture")
	e.Monitor.validate(ps, path+".monitor")
	positive(ps, path+".timeout", e.Timeout)
	atLeast(ps, path+".max_body_bytes", e.MaxBodyBytes, 0)
}

func (e *Endpoint) validateTags(ps *problems, path string) {
	if len(e.Tags) > maxTags {
		ps.add(path, "at most %d tags are allowed, got %d", maxTags, len(e.Tags))
	}
	keys := make([]string, 0, len(e.Tags))
	for k := range e.Tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := joinKey(path, k)
		switch n := utf8.RuneCountInString(k); {
		case n == 0:
			ps.add(p, "tag keys must not be empty")
		case n > maxTagKeyLen:
			ps.add(p, "tag key is %d characters long; the maximum is %d", n, maxTagKeyLen)
		case !tagRE.MatchString(k):
			ps.add(p, "invalid tag key %s: use letters, digits, spaces and _.:/=+-@", quote(k))
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			ps.add(p, `tag keys must not start with "aws:"`)
		}
		v := e.Tags[k]
		switch n := utf8.RuneCountInString(v); {
		case n > maxTagValueLen:
			ps.add(p, "tag value is %d characters long; the maximum is %d", n, maxTagValueLen)
		case !tagRE.MatchString(v):
			ps.add(p, "invalid tag value %s: use letters, digits, spaces and _.:/=+-@", quote(v))
		}
	}
}

func (v *Variant) validate(ps *problems, path string) {
	checkName(ps, path+".name", v.Name)
	if err := checkUpstream(v.Upstream); err != nil {
		ps.add(path+".upstream", "%v", err)
	}
	if math.IsNaN(v.Weight) || math.IsInf(v.Weight, 0) || v.Weight < 0 {
		ps.add(path+".weight", "must be a finite number >= 0, got %v", v.Weight)
	}
	switch {
	case !strings.HasPrefix(v.InvocationsPath, "/"):
		ps.add(path+".invocations_path", `must start with "/", got %s`, quote(v.InvocationsPath))
	case strings.ContainsAny(v.InvocationsPath, "?#"):
		ps.add(path+".invocations_path", "must not contain a query or fragment, got %s", quote(v.InvocationsPath))
	}
	if v.TLS != nil {
		v.TLS.validate(ps, path+".tls", v.Upstream)
	}
}

func (c *Capture) validate(ps *problems, path string) {
	if p := c.Sampling(); math.IsNaN(p) || p < 0 || p > 100 {
		ps.add(path+".sampling_percent", "must be between 0 and 100, got %v", p)
	}

	if len(c.Modes) == 0 {
		ps.add(path+".modes", "must list at least one of %s, %s", ModeInput, ModeOutput)
	}
	for i, m := range c.Modes {
		p := fmt.Sprintf("%s.modes[%d]", path, i)
		switch {
		case m != ModeInput && m != ModeOutput:
			ps.add(p, "invalid mode %s: want %s or %s", quote(m), ModeInput, ModeOutput)
		case slices.Contains(c.Modes[:i], m):
			ps.add(p, "duplicate mode %s", quote(m))
		}
	}

	checkContentTypes(ps, path+".csv_content_types", c.CSVContentTypes)
	checkContentTypes(ps, path+".json_content_types", c.JSONContentTypes)
	for i, t := range c.JSONContentTypes {
		if slices.Contains(c.CSVContentTypes, t) {
			ps.add(fmt.Sprintf("%s.json_content_types[%d]", path, i), "%s is also listed in csv_content_types", quote(t))
		}
	}

	oneOf(ps, path+".durability", c.Durability, DurabilityAsync, DurabilitySync)
	oneOf(ps, path+".on_spool_full", c.OnSpoolFull, SpoolFullReject, SpoolFullShed)
	if c.MaxObjectSeconds < 1 || c.MaxObjectSeconds > maxObjectSecondsHi {
		ps.add(path+".max_object_seconds", "must be between 1 and %d, got %d", maxObjectSecondsHi, c.MaxObjectSeconds)
	}
	atLeast(ps, path+".max_object_bytes", c.MaxObjectBytes, KiB)
	atLeast(ps, path+".max_payload_bytes", c.MaxPayloadBytes, 1)
	validateRedact(ps, path+".redact", c.Redact) // redact.go
	c.validateRetention(ps, path)                // retention.go
}

// checkContentTypes applies SageMaker's rules for a capture content-type list.
func checkContentTypes(ps *problems, path string, types []string) {
	switch {
	case len(types) == 0:
		ps.add(path, "must list at least one content type; leave the key out to use the default")
	case len(types) > maxContentTypes:
		ps.add(path, "at most %d content types are allowed, got %d", maxContentTypes, len(types))
	}
	for i, t := range types {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case len(t) > maxContentTypeLen:
			ps.add(p, "content type is %d characters long; the maximum is %d", len(t), maxContentTypeLen)
		case !contentTypeRE.MatchString(t):
			ps.add(p, "invalid content type %s: want type/subtype of letters, digits, hyphens and dots, without parameters", quote(t))
		case slices.Contains(types[:i], t):
			ps.add(p, "duplicate content type %s", quote(t))
		}
	}
}

// checkName applies SageMaker's endpoint and variant name rule.
func checkName(ps *problems, path, name string) {
	switch {
	case name == "":
		ps.add(path, "is required")
	case len(name) > maxNameLen:
		ps.add(path, "name is %d characters long; the maximum is %d", len(name), maxNameLen)
	case !nameRE.MatchString(name):
		ps.add(path, "invalid name %s: use letters, digits and hyphens, starting and ending with a letter or digit", quote(name))
	}
}

func positive(ps *problems, path string, d Duration) {
	if d <= 0 {
		ps.add(path, "must be greater than 0, got %v", d)
	}
}

func atLeast(ps *problems, path string, b, least ByteSize) {
	if b < least {
		ps.add(path, "must be at least %v, got %v", least, b)
	}
}

func oneOf(ps *problems, path, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		ps.add(path, "invalid value %s: want one of %s", quote(value), strings.Join(allowed, ", "))
	}
}

// checkListen checks a host:port listen address.
func checkListen(addr string) error {
	if addr == "" {
		return errors.New("must not be empty")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %s: want host:port, such as 127.0.0.1:8080", quote(addr))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %s in %s: want a number from 0 to 65535", quote(port), quote(addr))
	}
	return nil
}

// checkUpstream checks a variant's upstream base URL.
func checkUpstream(raw string) error {
	if raw == "" {
		return errors.New("is required")
	}
	return checkHTTPURL(raw)
}

// checkHTTPURL checks a base URL: absolute http or https with a host,
// optionally with a path, without query or fragment.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL %s: %w", quote(raw), errors.Unwrap(err))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("invalid URL %s: want an absolute http:// or https:// URL", quote(raw))
	case u.Opaque != "" || u.Hostname() == "":
		return fmt.Errorf("invalid URL %s: want a host, as in http://127.0.0.1:9001", quote(raw))
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Errorf("invalid URL %s: must not have a query", quote(raw))
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("invalid URL %s: must not have a fragment", quote(raw))
	}
	return nil
}

// BlobScheme returns the scheme of a blob URL, BlobSchemeFile ("file") or
// BlobSchemeS3 ("s3"), whatever its case in blob; it returns "" when blob is
// not a file:// or s3:// URL. It does not check the rest of the URL: use
// BlobPath or S3Location for that (Parse has already done so).
func BlobScheme(blob string) string {
	scheme, _, err := splitBlob(blob)
	if err != nil {
		return ""
	}
	return scheme
}

// BlobPath returns the local directory named by a file:// blob URL, as
// written after the scheme: file:///abs/dir gives /abs/dir, file://./dir
// gives ./dir and file://dir gives dir (both relative to the working
// directory). No percent-decoding is done. Any other URL, an s3:// one
// included, is an error.
func BlobPath(blob string) (string, error) {
	scheme, rest, err := splitBlob(blob)
	if err == nil {
		switch scheme {
		case BlobSchemeFile:
			if rest, err = filePath(rest); err == nil {
				return rest, nil
			}
		default:
			err = errors.New("not a file:// URL: an s3:// blob store has no local path (see S3Location)")
		}
	}
	return "", fmt.Errorf("blob %s: %w", quote(blob), err)
}

// S3Location returns the bucket and key prefix named by an s3:// blob URL:
// s3://bucket/prefix gives "bucket", "prefix". Leading and trailing slashes
// of the prefix are removed, so s3://bucket, s3://bucket/ and s3://bucket//
// all give the prefix "", and s3://bucket/a/b/ gives "a/b". No
// percent-decoding is done. Any other URL, a file:// one included, is an
// error, as are the bucket names and prefixes that Validate rejects.
func S3Location(blob string) (bucket, prefix string, err error) {
	scheme, rest, err := splitBlob(blob)
	if err == nil {
		switch scheme {
		case BlobSchemeS3:
			if bucket, prefix, err = s3Location(rest); err == nil {
				return bucket, prefix, nil
			}
		default:
			err = errors.New("not an s3:// URL")
		}
	}
	return "", "", fmt.Errorf("blob %s: %w", quote(blob), err)
}

// checkBlob checks storage.blob and returns its scheme. On error the scheme
// is still returned when it is a supported one.
func checkBlob(blob string) (scheme string, err error) {
	scheme, rest, err := splitBlob(blob)
	if err != nil {
		return "", err
	}
	switch scheme {
	case BlobSchemeFile:
		_, err = filePath(rest)
	case BlobSchemeS3:
		_, _, err = s3Location(rest)
	}
	return scheme, err
}

// splitBlob splits a blob URL into its lower-case scheme, which is "file"
// or "s3", and what follows "://".
func splitBlob(blob string) (scheme, rest string, err error) {
	if blob == "" {
		return "", "", errors.New("must not be empty")
	}
	scheme, rest, ok := strings.Cut(blob, "://")
	if !ok || !schemeRE.MatchString(scheme) {
		return "", "", fmt.Errorf("invalid URL %s: want a file:// URL such as file:///var/lib/glassbox/data, or an s3:// URL such as s3://my-bucket/capture", quote(blob))
	}
	switch scheme = strings.ToLower(scheme); scheme {
	case BlobSchemeFile, BlobSchemeS3:
		return scheme, rest, nil
	}
	return "", "", fmt.Errorf("unsupported scheme %s: only file:// and s3:// are supported", quote(scheme))
}

// filePath checks what follows file:// and returns it as the path.
func filePath(rest string) (string, error) {
	if rest == "" {
		return "", errors.New("file URL has no path: want file:///abs/dir or file://./rel/dir")
	}
	return rest, nil
}

// s3Location splits what follows s3:// into a bucket name and a prefix
// without leading or trailing slashes, and checks both.
func s3Location(rest string) (bucket, prefix string, err error) {
	if strings.ContainsAny(rest, "?#") {
		return "", "", errors.New("s3 URL must not have a query or fragment: want s3://bucket or s3://bucket/prefix")
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", errors.New("s3 URL has no bucket: want s3://bucket or s3://bucket/prefix")
	}
	if err := checkBucket(bucket); err != nil {
		return "", "", err
	}
	prefix = strings.Trim(prefix, "/")
	if err := checkPrefix(prefix); err != nil {
		return "", "", err
	}
	return bucket, prefix, nil
}

// checkBucket applies S3's naming rules for general purpose buckets.
func checkBucket(name string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("invalid bucket name %s: %s", quote(name), fmt.Sprintf(format, args...))
	}
	if n := len(name); n < minBucketLen || n > maxBucketLen {
		return fail("must be %d to %d characters long, got %d", minBucketLen, maxBucketLen, n)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isLowerAlnum(c) && c != '.' && c != '-' {
			return fail("use only lowercase letters, digits, dots and hyphens")
		}
	}
	switch {
	case !isLowerAlnum(name[0]) || !isLowerAlnum(name[len(name)-1]):
		return fail("must start and end with a letter or digit")
	case strings.Contains(name, ".."):
		return fail(`must not contain ".."`)
	case net.ParseIP(name) != nil:
		return fail("must not be formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return fail("the prefix %s is reserved by S3", quote(p))
		}
	}
	for _, x := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, x) {
			return fail("the suffix %s is reserved by S3", quote(x))
		}
	}
	return nil
}

// checkPrefix checks an S3 key prefix whose leading and trailing slashes
// are already trimmed: the objstore key rules, so that every object key
// under it is valid.
func checkPrefix(prefix string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("invalid prefix %s: %s", quote(prefix), fmt.Sprintf(format, args...))
	}
	switch {
	case prefix == "":
		return nil
	case len(prefix) > maxPrefixLen:
		return fail("is %d bytes long; the maximum is %d", len(prefix), maxPrefixLen)
	case !utf8.ValidString(prefix):
		return fail("not valid UTF-8")
	case strings.Contains(prefix, "//"):
		return fail(`must not contain "//"`)
	case strings.ContainsAny(prefix, "\\\x00"):
		return fail("must not contain a backslash or NUL byte")
	}
	for seg := range strings.SplitSeq(prefix, "/") {
		if seg == "." || seg == ".." {
			return fail("must not contain a %s segment", quote(seg))
		}
	}
	return nil
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

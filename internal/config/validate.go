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
)

var (
	nameRE        = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9])*$`)
	contentTypeRE = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9])*/[a-zA-Z0-9](-*[a-zA-Z0-9.])*$`)
	tagRE         = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	schemeRE      = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*$`)
)

// problems collects validation problems.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Validate checks every rule documented on the schema's fields and returns
// a ValidationError listing all problems, or nil. It treats a nil
// Capture.Enabled or Capture.SamplingPercent as its default, but a nil list
// as empty: call Endpoint.ApplyDefaults first on endpoints built in code.
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
	if len(ps) == 0 {
		return nil
	}
	return ValidationError{Problems: ps}
}

func (s *Server) validate(ps *problems) {
	if err := checkListen(s.Listen); err != nil {
		ps.add("server.listen", "%v", err)
	}
	positive(ps, "server.read_header_timeout", s.ReadHeaderTimeout)
	positive(ps, "server.idle_timeout", s.IdleTimeout)
	positive(ps, "server.shutdown_timeout", s.ShutdownTimeout)
	atLeast(ps, "server.max_body_bytes", s.MaxBodyBytes, 1)
}

func (s *Storage) validate(ps *problems) {
	if _, err := blobPath(s.Blob); err != nil {
		ps.add("storage.blob", "%v", err)
	}
	if s.Spool == "" {
		ps.add("storage.spool", "must not be empty")
	}
	if s.QueueMaxRecords < 1 {
		ps.add("storage.queue_max_records", "must be at least 1, got %d", s.QueueMaxRecords)
	}
	atLeast(ps, "storage.queue_max_bytes", s.QueueMaxBytes, MiB)
}

func (l *Log) validate(ps *problems) {
	oneOf(ps, "log.level", l.Level, "debug", "info", "warn", "error")
	oneOf(ps, "log.format", l.Format, "text", "json")
}

func (e *Endpoint) validate(ps *problems, path string) {
	checkName(ps, path+".name", e.Name)
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
	if c.MaxObjectSeconds < 1 || c.MaxObjectSeconds > maxObjectSecondsHi {
		ps.add(path+".max_object_seconds", "must be between 1 and %d, got %d", maxObjectSecondsHi, c.MaxObjectSeconds)
	}
	atLeast(ps, path+".max_object_bytes", c.MaxObjectBytes, KiB)
	atLeast(ps, path+".max_payload_bytes", c.MaxPayloadBytes, 1)
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

// errS3NotSupported is the problem reported for an s3:// blob store.
var errS3NotSupported = errors.New("s3 blob stores are not supported yet")

// BlobPath returns the local directory named by a file:// blob URL, as
// written after the scheme: file:///abs/dir gives /abs/dir, file://./dir
// gives ./dir and file://dir gives dir (both relative to the working
// directory). No percent-decoding is done. Any other URL is an error.
func BlobPath(blob string) (string, error) {
	p, err := blobPath(blob)
	if err != nil {
		return "", fmt.Errorf("blob %s: %w", quote(blob), err)
	}
	return p, nil
}

func blobPath(blob string) (string, error) {
	if blob == "" {
		return "", errors.New("must not be empty")
	}
	scheme, rest, ok := strings.Cut(blob, "://")
	if !ok || !schemeRE.MatchString(scheme) {
		return "", fmt.Errorf("invalid URL %s: want a file:// URL such as file:///var/lib/glassbox/data", quote(blob))
	}
	switch strings.ToLower(scheme) {
	case "file":
		if rest == "" {
			return "", errors.New("file URL has no path: want file:///abs/dir or file://./rel/dir")
		}
		return rest, nil
	case "s3":
		return "", errS3NotSupported
	}
	return "", fmt.Errorf("unsupported scheme %s: only file:// is supported", quote(scheme))
}

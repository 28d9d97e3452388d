package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxVisits bounds the work of one Parse. Aliases let a small document
// describe an exponentially large one; past this many nodes decoding stops.
const maxVisits = 1_000_000

// Load reads the configuration file at path and returns Parse's result.
// Errors name the file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes a YAML configuration, applies defaults and validates it.
//
// Decoding is strict. An unknown key, a duplicated key, a value of the wrong
// type, or a reference to an unset environment variable is reported as a
// Problem naming the key's path and line, and all such problems are returned
// together in a ValidationError. Once decoding succeeds, Parse returns
// Validate's error, if any. Empty input, or input holding only comments,
// yields Default() with no endpoints. YAML anchors, aliases and merge keys
// (<<) are supported; multiple documents are not.
//
// Scalar values are expanded after YAML parsing, so an expanded value is
// never re-read as YAML: ${VAR} is replaced by the variable's value (an error
// when it is unset), ${VAR:-default} by the value or, when the variable is
// unset or empty, by default taken literally, and $$ by a single $. Any
// other $ is kept as is. Keys are never expanded.
//
// A key that is present with a null value (key: or key: ~) is treated as
// if it were absent and keeps its default.
func Parse(data []byte) (*Config, error) {
	return parse(data, os.LookupEnv)
}

func parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	root, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	cfg := Default()
	if root != nil {
		d := &decoder{lookup: lookup}
		d.decode(root, reflect.ValueOf(cfg).Elem(), "")
		if len(d.problems) > 0 {
			return nil, ValidationError{Problems: d.problems}
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseYAML parses data into a node tree and returns the root node of its
// single document, or nil when the document is empty.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	// Parse promises never to panic; guard against a bug in the YAML parser
	// turning hostile input into a crash.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: cannot parse document: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	default:
		return nil, fmt.Errorf("yaml: line %d: a config file must hold a single document", next.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// decoder decodes a node tree onto a Go value by reflection, following the
// yaml struct tags, and collects every problem with its path.
type decoder struct {
	lookup   func(string) (string, bool)
	problems []Problem
	visits   int
	merging  map[*yaml.Node]bool // mappings whose entries are being collected
}

// add records a problem with a preformatted message.
func (d *decoder) add(path, msg string) {
	d.problems = append(d.problems, Problem{Path: path, Message: msg})
}

// problem records a problem and appends the node's line to its message.
func (d *decoder) problem(path string, n *yaml.Node, format string, args ...any) {
	d.add(path, fmt.Sprintf(format, args...)+lineOf(n))
}

// lineOf returns " (line N)" for a node with a known line, and "" otherwise.
func lineOf(n *yaml.Node) string {
	if n == nil || n.Line <= 0 {
		return ""
	}
	return fmt.Sprintf(" (line %d)", n.Line)
}

// spend counts one unit of work and reports whether the budget allows it.
func (d *decoder) spend(n *yaml.Node) bool {
	d.visits++
	if d.visits == maxVisits+1 {
		d.problem("", n, "document is too large: more than %d nodes after expanding aliases", maxVisits)
	}
	return d.visits <= maxVisits
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// isNull reports whether n is a YAML null (~, null or nothing at all).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindName describes a node's kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "the value " + quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	return "nothing"
}

var (
	durationType = reflect.TypeFor[Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// decode decodes n onto v. A null node leaves v unchanged, so v keeps the
// default it was initialised with.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(n) {
		return
	}
	if n = resolve(n); n == nil || isNull(n) {
		return
	}
	switch v.Type() {
	case durationType:
		if s, ok := d.scalar(n, path, "a duration"); ok {
			x, err := ParseDuration(s)
			if err != nil {
				d.problem(path, n, "%v", err)
				return
			}
			v.SetInt(int64(x))
		}
		return
	case byteSizeType:
		if s, ok := d.scalar(n, path, "a byte size"); ok {
			x, err := ParseByteSize(s)
			if err != nil {
				d.problem(path, n, "%v", err)
				return
			}
			v.SetInt(int64(x))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, path, "true or false"); ok {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true":
				v.SetBool(true)
			case "false":
				v.SetBool(false)
			default:
				d.problem(path, n, "cannot parse %s as a boolean: want true or false", quote(s))
			}
		}
	case reflect.Int:
		if s, ok := d.scalar(n, path, "an integer"); ok {
			x, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || v.OverflowInt(x) {
				d.problem(path, n, "cannot parse %s as an integer", quote(s))
				return
			}
			v.SetInt(x)
		}
	case reflect.Float64:
		if s, ok := d.scalar(n, path, "a number"); ok {
			x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				d.problem(path, n, "cannot parse %s as a number", quote(s))
				return
			}
			v.SetFloat(x)
		}
	default:
		// Unreachable unless the schema gains a field of a new kind.
		d.problem(path, n, "internal error: cannot decode into %s", v.Type())
	}
}

// scalar returns the expanded value of a scalar node, or records a problem
// and returns false when n is not a scalar or expansion fails.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.problem(path, n, "expected %s, got %s", want, kindName(n))
		return "", false
	}
	s, err := expand(n.Value, d.lookup)
	if err != nil {
		d.problem(path, n, "%v", err)
		return "", false
	}
	return s, true
}

// decodeStruct decodes a mapping onto a struct, field by yaml tag. Keys
// with no matching field are reported as unknown.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(path, n, "expected a mapping, got %s", kindName(n))
		return
	}
	t := v.Type()
	fields := make(map[string]int, t.NumField())
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	for _, e := range d.entries(n, path) {
		p := joinKey(path, e.key.Value)
		i, ok := fields[e.key.Value]
		if !ok {
			msg := "unknown key" + lineOf(e.key)
			if s := suggest(e.key.Value, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.add(p, msg)
			continue
		}
		d.decode(e.value, v.Field(i), p)
	}
}

// decodeMap decodes a mapping onto a map with string keys.
func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(path, n, "expected a mapping, got %s", kindName(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	for _, e := range d.entries(n, path) {
		ev := reflect.New(t.Elem()).Elem()
		d.decode(e.value, ev, joinKey(path, e.key.Value))
		m.SetMapIndex(reflect.ValueOf(e.key.Value).Convert(t.Key()), ev)
	}
	v.Set(m)
}

// decodeSlice decodes a sequence onto a new slice that replaces v, starting
// each element from its default (DefaultEndpoint, DefaultVariant,
// DefaultWebhook) and, for
// an endpoint, resolving the defaults that depend on its other keys.
func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.problem(path, n, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		el := s.Index(i)
		switch p := el.Addr().Interface().(type) {
		case *Endpoint:
			*p = parseEndpoint()
		case *Variant:
			*p = DefaultVariant()
		case *Webhook:
			*p = DefaultWebhook()
		}
		d.decode(c, el, fmt.Sprintf("%s[%d]", path, i))
		if p, ok := el.Addr().Interface().(*Endpoint); ok {
			p.resolveDefaults()
		}
	}
	v.Set(s)
}

// entry is one key/value pair of a mapping.
type entry struct {
	key, value *yaml.Node
}

// entries returns the pairs of mapping n with merge keys (<<) applied: keys
// written in n win over merged ones, and earlier merged mappings win over
// later ones. It reports non-string keys and keys written twice.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	if d.merging[n] {
		d.problem(path, n, "a merge key (<<) refers to the mapping that contains it")
		return nil
	}
	if d.merging == nil {
		d.merging = make(map[*yaml.Node]bool)
	}
	d.merging[n] = true
	defer delete(d.merging, n)
	var out []entry
	seen := make(map[string]*yaml.Node)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k == nil || !d.spend(k) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.problem(path, k, "keys must be strings, got %s", kindName(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.add(joinKey(path, k.Value), fmt.Sprintf("duplicate key (line %d, first at line %d)", k.Line, first.Line))
			continue
		}
		seen[k.Value] = k
		out = append(out, entry{k, val})
	}
	for _, m := range merges {
		m = resolve(m)
		if m == nil {
			continue
		}
		sources := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			sources = m.Content
		}
		for _, src := range sources {
			if src = resolve(src); src == nil || !d.spend(src) {
				continue
			}
			if src.Kind != yaml.MappingNode {
				d.problem(path, src, "a merge key (<<) takes a mapping or a list of mappings, got %s", kindName(src))
				continue
			}
			for _, e := range d.entries(src, path) {
				if _, dup := seen[e.key.Value]; dup {
					continue
				}
				seen[e.key.Value] = e.key
				out = append(out, e)
			}
		}
	}
	return out
}

// plainKey matches keys that can be written after a dot in a path.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// joinKey appends a mapping key to a path: server.listen, or tags["a b"]
// for a key that is not a plain word.
func joinKey(path, key string) string {
	if !plainKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest returns the known key closest to key when it is close enough to
// be a likely typo, and "" otherwise.
func suggest(key string, known []string) string {
	best, bestDist := "", 0
	for _, k := range known {
		limit := max(2, len(k)/3)
		if dist := editDistance(key, k); dist <= limit && (best == "" || dist < bestDist) {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance returns the Levenshtein distance between a and b, in bytes.
// Long inputs are not worth comparing and count as far apart.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// expand performs environment-variable expansion on one scalar value:
// ${VAR}, ${VAR:-default} and $$ (see Parse).
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated variable reference %q: want ${NAME} or ${NAME:-default}", truncate(s[i:], 40))
			}
			ref := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(ref, ":-")
			if !isVarName(name) {
				return "", fmt.Errorf("invalid variable reference %s: a name is letters, digits and underscores, not starting with a digit", quote("${"+ref+"}"))
			}
			val, ok := lookup(name)
			switch {
			case hasDef && val == "":
				val = def
			case !ok:
				return "", fmt.Errorf("environment variable %q is not set (write ${%s:-default} to give a default)", name, name)
			}
			b.WriteString(val)
			i += 2 + end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// isVarName reports whether s is a valid environment variable name.
func isVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// truncate shortens s to at most about n bytes for an error message,
// cutting at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// quote quotes a user-supplied value for an error message, shortening it
// when it is long.
func quote(s string) string {
	return strconv.Quote(truncate(s, maxQuoted))
}

// maxQuoted is how many bytes of a value an error message quotes.
const maxQuoted = 80

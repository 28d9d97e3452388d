package monitor

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"mime"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

// This file turns capture records into the rows Model Monitor profiles.
//
// A record holds an input payload and an output payload. Each payload gives
// zero or more rows: a CSV payload one row per non-blank line, a JSON payload
// one row per top-level JSON value (so JSON Lines give several). The rows of
// the output and of the input are paired in order (their counts must match)
// and each pair becomes one Row whose output values come first, then the
// input values, which is the column order of a Model Monitor baseline data
// set ("prediction columns are assumed to be the first columns").
//
// Naming. A CSV row, a JSON array and a JSON scalar are positional: their
// values have no names. A flat JSON object is named by its keys, and a JSON
// payload read through Columns is named by the column names. When both parts
// of a row are positional the Row is positional (Names nil) and the profiler
// names values by position, which is how Model Monitor matches CSV data to a
// baseline. When either part is named, every positional value is named by
// its position p in the combined row: RowOptions.Names[p] when there is one
// (Run passes the baseline's feature names), else "_c<p>" (Spark's default
// column names).
//
// Values. An empty CSV field and a JSON null (or a Columns path the record
// lacks) are null. CSV fields are untyped, quoted or not (as in Spark, "12"
// is a number); a JSON string is Quoted, so the profiler types it String. A JSON number keeps its literal text; true
// and false are unquoted text; a nested JSON object or array where a value is
// expected is passed as its raw JSON text, quoted (the built-in SageMaker
// analyzer cannot read nested JSON at all; Columns paths read inside it).

// Payload formats of PayloadFormat.Format.
const (
	FormatAuto = "auto" // "" means the same
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// Column takes one value out of a JSON payload.
//
// Path grammar, a subset of JSONPath:
//
//	path    = "$" { segment }
//	segment = "." name | "[" index "]" | "[" quoted "]"
//	name    = one or more bytes other than . [ ] " ' space and control characters
//	index   = decimal digits (array element, 0 first)
//	quoted  = a "double-" or 'single-quoted' key; a backslash escapes the next byte
//
// Examples: $.amount, $.features[0], $["key with.dots"], $.a.b[2]['c'].
// "$" alone is the whole JSON value.
type Column struct {
	Name string // name of the value in the row; required and unique within a PayloadFormat
	Path string
}

// PayloadFormat says how to read one part (input or output) of a record.
type PayloadFormat struct {
	// Format is "" or "auto" (from the record: encoding CSV or JSON as
	// written; BASE64 is decoded and then read as CSV or JSON by its
	// observedContentType), "csv" or "json" (BASE64 payloads are decoded
	// first).
	Format string
	// Columns applies to JSON payloads only: the values taken by path, in
	// this order. Empty: a flat JSON object gives its keys by name, a JSON
	// array or scalar gives its values by position.
	Columns []Column
}

// RowOptions configure an Assembler.
type RowOptions struct {
	Input, Output PayloadFormat
	// Names names positional values in rows that also have named values; see
	// the naming rule above. Run sets it to the baseline's feature names.
	Names []string
}

// Assembler turns capture records into rows. It keeps scratch buffers
// between calls, so it is not safe for concurrent use; use one per
// goroutine.
type Assembler struct {
	opts    RowOptions
	in, out part
	row     Row
	parts   [2]*part
	names   []string          // scratch for combined names
	intern  map[string]string // JSON keys and positional names, interned
	posName []string          // cache of "_c<p>"
}

// part is the compiled format and scratch state of one payload.
type part struct {
	label  string // "input" or "output"
	format string
	cols   []Column
	paths  [][]pathSeg
	colNms []string

	raw  []byte // the payload's bytes (copied or base64-decoded)
	b64  []byte
	buf  []byte // unescaped CSV and JSON strings
	rows rowSet
	json jsonParser
}

// rowSet is the rows of one payload, flattened.
type rowSet struct {
	vals   []Value
	names  []string // parallel to vals for named rows
	starts []int    // row i is vals[starts[i]:starts[i+1]]
	named  []bool
}

func (s *rowSet) reset() {
	s.vals, s.names, s.starts, s.named = s.vals[:0], s.names[:0], append(s.starts[:0], 0), s.named[:0]
}

// endRow closes the row whose values were appended since the last call.
func (s *rowSet) endRow(named bool) {
	s.starts = append(s.starts, len(s.vals))
	s.named = append(s.named, named)
}

func (s *rowSet) len() int { return len(s.named) }

// pathSeg is one step of a compiled Column path: a key, or an index when
// key is unset.
type pathSeg struct {
	key   string
	isKey bool
	index int
}

// NewAssembler validates opts and returns an Assembler.
func NewAssembler(opts RowOptions) (*Assembler, error) {
	a := &Assembler{opts: opts, intern: map[string]string{}}
	a.in.label, a.out.label = "input", "output"
	for _, p := range []struct {
		pt *part
		f  PayloadFormat
	}{{&a.in, opts.Input}, {&a.out, opts.Output}} {
		if err := p.pt.compile(p.f); err != nil {
			return nil, fmt.Errorf("%s format: %w", p.pt.label, err)
		}
	}
	return a, nil
}

func (p *part) compile(f PayloadFormat) error {
	switch strings.ToLower(f.Format) {
	case "", FormatAuto:
		p.format = FormatAuto
	case FormatCSV:
		p.format = FormatCSV
	case FormatJSON:
		p.format = FormatJSON
	default:
		return fmt.Errorf("format %q is not auto, csv or json", f.Format)
	}
	if len(f.Columns) > 0 && p.format == FormatCSV {
		return errors.New("columns apply to JSON payloads only; remove them or use format json or auto")
	}
	seen := map[string]bool{}
	for i, c := range f.Columns {
		if c.Name == "" {
			return fmt.Errorf("column %d (path %q): name is empty", i, c.Path)
		}
		if seen[c.Name] {
			return fmt.Errorf("column %d: name %q is used twice", i, c.Name)
		}
		seen[c.Name] = true
		segs, err := parsePath(c.Path)
		if err != nil {
			return fmt.Errorf("column %d (%q): %w", i, c.Name, err)
		}
		p.paths = append(p.paths, segs)
		p.colNms = append(p.colNms, c.Name)
	}
	p.cols = f.Columns
	return nil
}

// parsePath compiles a Column path (grammar on Column). The error names the
// offset of the first problem.
func parsePath(path string) ([]pathSeg, error) {
	fail := func(i int, msg string) error {
		return fmt.Errorf("path %q: offset %d: %s (want e.g. $.a.b, $.a[0] or $[\"key\"])", path, i, msg)
	}
	if !strings.HasPrefix(path, "$") {
		return nil, fail(0, "must start with $")
	}
	var segs []pathSeg
	i := 1
	for i < len(path) {
		switch path[i] {
		case '.':
			j := i + 1
			for j < len(path) && isNameByte(path[j]) {
				j++
			}
			if j == i+1 {
				return nil, fail(i+1, "expected a key name after .")
			}
			segs = append(segs, pathSeg{key: path[i+1 : j], isKey: true})
			i = j
		case '[':
			if i+1 >= len(path) {
				return nil, fail(i, "unterminated [")
			}
			if q := path[i+1]; q == '"' || q == '\'' {
				var key []byte
				j := i + 2
				for ; j < len(path) && path[j] != q; j++ {
					if path[j] == '\\' {
						j++
						if j >= len(path) {
							break
						}
					}
					key = append(key, path[j])
				}
				if j >= len(path) {
					return nil, fail(i+1, "unterminated quoted key")
				}
				if j+1 >= len(path) || path[j+1] != ']' {
					return nil, fail(j+1, "expected ] after quoted key")
				}
				segs = append(segs, pathSeg{key: string(key), isKey: true})
				i = j + 2
				continue
			}
			j := i + 1
			for j < len(path) && path[j] >= '0' && path[j] <= '9' {
				j++
			}
			if j == i+1 {
				return nil, fail(i+1, "expected an array index or a quoted key after [")
			}
			if j >= len(path) || path[j] != ']' {
				return nil, fail(j, "expected ] after array index")
			}
			n, err := strconv.Atoi(path[i+1 : j])
			if err != nil || n > 1<<30 {
				return nil, fail(i+1, "array index out of range")
			}
			segs = append(segs, pathSeg{index: n})
			i = j + 1
		default:
			return nil, fail(i, fmt.Sprintf("unexpected %q; segments start with . or [", path[i]))
		}
	}
	return segs, nil
}

func isNameByte(c byte) bool {
	switch c {
	case '.', '[', ']', '"', '\'', ' ', 0x7f:
		return false
	}
	return c > 0x20
}

// rowError is a record that cannot be turned into rows. Run counts these as
// skipped records by reason instead of failing.
type rowError struct {
	part   string // "input", "output" or "" for the record
	reason string // short and stable: a SkipReasons key
	err    error
}

func (e *rowError) Error() string {
	s := "assemble rows: "
	if e.part != "" {
		s += e.part + " "
	}
	s += e.reason
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *rowError) Unwrap() error { return e.err }

// key is the SkipReasons key of the error.
func (e *rowError) key() string {
	if e.part == "" {
		return e.reason
	}
	return e.part + ": " + e.reason
}

// Rows calls fn once per row the record holds, output values first, then
// input values. The *Row and the bytes its values point to are reused: they
// are valid only during the call. A record whose payloads cannot be read,
// or whose input and output row counts differ, gives an error before fn is
// called at all; an error from fn stops the iteration and is returned as is.
func (a *Assembler) Rows(rec *capture.Record, fn func(*Row) error) error {
	in, out := rec.CaptureData.EndpointInput, rec.CaptureData.EndpointOutput
	if in == nil && out == nil {
		return &rowError{reason: "no payload"}
	}
	parts := a.parts[:0]
	for _, pp := range []struct {
		pt *part
		pl *capture.Payload
	}{{&a.out, out}, {&a.in, in}} { // Model Monitor's order: outputs first
		if pp.pl == nil {
			continue
		}
		if err := pp.pt.parse(a, pp.pl); err != nil {
			return err
		}
		parts = append(parts, pp.pt)
	}
	n := parts[0].rows.len()
	if len(parts) == 2 && parts[1].rows.len() != n {
		return &rowError{reason: "row count mismatch", err: fmt.Errorf("input has %d rows, output %d", a.in.rows.len(), a.out.rows.len())}
	}
	for i := range n {
		anyNamed := false
		for _, p := range parts {
			anyNamed = anyNamed || p.rows.named[i]
		}
		a.row.Values, a.names = a.row.Values[:0], a.names[:0]
		for _, p := range parts {
			lo, hi := p.rows.starts[i], p.rows.starts[i+1]
			if anyNamed {
				if p.rows.named[i] {
					a.names = append(a.names, p.rows.names[lo:hi]...)
				} else {
					for k := range hi - lo {
						a.names = append(a.names, a.positionalName(len(a.row.Values)+k))
					}
				}
			}
			a.row.Values = append(a.row.Values, p.rows.vals[lo:hi]...)
		}
		a.row.Names = nil
		if anyNamed {
			a.row.Names = a.names
		}
		if err := fn(&a.row); err != nil {
			return err
		}
	}
	return nil
}

// positionalName names the value at position p of a named row.
func (a *Assembler) positionalName(p int) string {
	if p < len(a.opts.Names) {
		return a.opts.Names[p]
	}
	for len(a.posName) <= p {
		a.posName = append(a.posName, "_c"+strconv.Itoa(len(a.posName)))
	}
	return a.posName[p]
}

// internKey returns b as a string, allocating only the first time a key is
// seen. The table is bounded so that payloads with ever-new keys cannot grow
// it without limit.
func (a *Assembler) internKey(b []byte) string {
	if s, ok := a.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(a.intern) < 4096 {
		a.intern[s] = s
	}
	return s
}

// parse reads one payload into p.rows.
func (p *part) parse(a *Assembler, pl *capture.Payload) error {
	p.rows.reset()
	p.buf = p.buf[:0]
	format := p.format
	switch pl.Encoding {
	case capture.EncodingBase64:
		var err error
		p.b64 = append(p.b64[:0], pl.Data...)
		p.raw, err = base64.StdEncoding.AppendDecode(p.raw[:0], p.b64)
		if err != nil {
			return &rowError{part: p.label, reason: "invalid base64", err: err}
		}
		if format == FormatAuto {
			format = formatOf(pl.ObservedContentType)
			if format == "" {
				return &rowError{part: p.label, reason: "unsupported content type", err: fmt.Errorf("%q is neither CSV nor JSON; set the payload format", pl.ObservedContentType)}
			}
		}
	case capture.EncodingCSV, capture.EncodingJSON:
		p.raw = append(p.raw[:0], pl.Data...)
		if format == FormatAuto {
			format = FormatCSV
			if pl.Encoding == capture.EncodingJSON {
				format = FormatJSON
			}
		}
	default:
		return &rowError{part: p.label, reason: "unknown encoding", err: fmt.Errorf("%q", pl.Encoding)}
	}
	var err error
	if format == FormatCSV {
		p.buf, err = parseCSV(p.raw, p.buf, &p.rows)
		if err != nil {
			return &rowError{part: p.label, reason: "invalid csv", err: err}
		}
		return nil
	}
	if err := p.parseJSON(a); err != nil {
		return &rowError{part: p.label, reason: "invalid json", err: err}
	}
	return nil
}

// formatOf maps a content type to a payload format: a media type naming csv
// is CSV, one naming json (application/json, application/jsonlines,
// application/x-ndjson...) is JSON, anything else "".
func formatOf(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch {
	case strings.Contains(mt, "csv"):
		return FormatCSV
	case strings.Contains(mt, "json"):
		return FormatJSON
	}
	return ""
}

// splitPlainCSV is parseCSV for data without any '"': one pass over the
// bytes, cutting fields at ',' and rows at '\n' (a '\r' before the '\n' is
// not part of the last field; a line that is empty without it is skipped).
// Fields are short, so instead of a bytes.IndexByte call per field it looks
// at eight bytes at a time for the few byte values up to ',' (see
// lowBytes), which are rare in numeric data apart from the separators.
func splitPlainCSV(data []byte, rs *rowSet) {
	vals := rs.vals
	start, lineStart := 0, 0
	// cut handles the byte c at i if it is a separator.
	cut := func(i int, c byte) {
		switch c {
		case ',':
			vals = append(vals, Value{Raw: data[start:i], Null: i == start})
			start = i + 1
		case '\n':
			end := i
			if end > lineStart && data[end-1] == '\r' {
				end--
			}
			if end > lineStart {
				vals = append(vals, Value{Raw: data[start:end], Null: end == start})
				rs.vals = vals
				rs.endRow(false)
			}
			start, lineStart = i+1, i+1
		}
	}
	i := 0
	for ; i+8 <= len(data); i += 8 {
		w := binary.LittleEndian.Uint64(data[i:])
		for m := lowBytes(w); m != 0; m &= m - 1 {
			tz := bits.TrailingZeros64(m)
			cut(i+tz>>3, byte(w>>(tz&^7)))
		}
	}
	for ; i < len(data); i++ {
		if c := data[i]; c <= ',' {
			cut(i, c)
		}
	}
	if end := len(data); end > lineStart {
		if data[end-1] == '\r' {
			end--
		}
		if end > lineStart {
			vals = append(vals, Value{Raw: data[start:end], Null: end == start})
			rs.vals = vals
			rs.endRow(false)
		}
	}
	rs.vals = vals
}

// lowBytes returns a mask with the top bit set in every byte of w that is at
// most ',' (0x2c), and nothing else. Adding 0x53 to a byte's low seven bits
// carries into its top bit exactly when they are at least 0x2d, and never
// into the next byte; bytes with the top bit set (UTF-8) are excluded.
func lowBytes(w uint64) uint64 {
	const low7, add, top = 0x7f7f7f7f7f7f7f7f, 0x5353535353535353, 0x8080808080808080
	return ^((w & low7) + add | w) & top
}

// parseCSV splits data into rows of RFC 4180 fields. Blank lines are
// skipped; a line ends at \n or \r\n. Fields without quotes point into data
// (the fast path when data has no '"' at all); quoted fields with doubled
// quotes are unescaped into buf, which is returned grown. A '"' inside an
// unquoted field is kept as text, as Spark's CSV reader does.
func parseCSV(data, buf []byte, rs *rowSet) ([]byte, error) {
	if bytes.IndexByte(data, '"') < 0 {
		splitPlainCSV(data, rs)
		return buf, nil
	}
	lineNo := 1
	i := 0
	for i < len(data) {
		// At the start of a line.
		if data[i] == '\n' {
			i++
			lineNo++
			continue
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i += 2
			lineNo++
			continue
		}
		for {
			// At the start of a field.
			if i < len(data) && data[i] == '"' {
				start := i + 1
				j := start
				escaped := false
				for {
					k := bytes.IndexByte(data[j:], '"')
					if k < 0 {
						return buf, fmt.Errorf("line %d: quoted field is not closed", lineNo)
					}
					lineNo += bytes.Count(data[j:j+k], []byte{'\n'})
					j += k
					if j+1 < len(data) && data[j+1] == '"' {
						escaped = true
						j += 2
						continue
					}
					break
				}
				raw := data[start:j]
				if escaped {
					from := len(buf)
					for len(raw) > 0 {
						k := bytes.IndexByte(raw, '"')
						if k < 0 {
							buf = append(buf, raw...)
							break
						}
						buf = append(buf, raw[:k+1]...)
						raw = raw[k+2:]
					}
					raw = buf[from:len(buf):len(buf)]
				}
				rs.vals = append(rs.vals, Value{Raw: raw})
				i = j + 1
				if i < len(data) && data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
					i++
				}
				if i < len(data) && data[i] != ',' && data[i] != '\n' {
					return buf, fmt.Errorf("line %d: unexpected %q after a closing quote", lineNo, data[i])
				}
			} else {
				j := i
				for j < len(data) && data[j] != ',' && data[j] != '\n' {
					j++
				}
				f := data[i:j]
				if j == len(data) || data[j] == '\n' {
					f = bytes.TrimSuffix(f, []byte{'\r'})
				}
				rs.vals = append(rs.vals, Value{Raw: f, Null: len(f) == 0})
				i = j
			}
			if i < len(data) && data[i] == ',' {
				i++
				continue
			}
			break
		}
		rs.endRow(false)
		if i < len(data) { // at '\n'
			i++
			lineNo++
		}
	}
	return buf, nil
}

// parseJSON reads every top-level JSON value of p.raw as one row.
func (p *part) parseJSON(a *Assembler) error {
	jp := &p.json
	jp.reset(p.raw, p.buf)
	defer func() { p.buf = jp.buf }()
	for {
		jp.skipSpace()
		if jp.pos >= len(jp.data) {
			return nil
		}
		jp.nodes = jp.nodes[:0]
		root, err := jp.value(0)
		if err != nil {
			return err
		}
		rs := &p.rows
		n := &jp.nodes[root]
		switch {
		case len(p.paths) > 0:
			for c, segs := range p.paths {
				rs.vals = append(rs.vals, jp.valueOf(jp.lookup(root, segs)))
				rs.names = append(rs.names, p.colNms[c])
			}
			rs.endRow(true)
		case n.kind == '{':
			for c := n.first; c >= 0; c = jp.nodes[c].next {
				rs.vals = append(rs.vals, jp.valueOf(c))
				rs.names = append(rs.names, a.internKey(jp.nodes[c].key))
			}
			rs.endRow(true)
		case n.kind == '[':
			for c := n.first; c >= 0; c = jp.nodes[c].next {
				rs.vals = append(rs.vals, jp.valueOf(c))
			}
			rs.endRow(false)
		default:
			rs.vals = append(rs.vals, jp.valueOf(root))
			rs.endRow(false)
		}
		// Keep names parallel to values for positional rows too.
		for len(rs.names) < len(rs.vals) {
			rs.names = append(rs.names, "")
		}
	}
}

// maxJSONDepth bounds nesting so that hostile payloads cannot exhaust the
// stack.
const maxJSONDepth = 512

// jsonParser is a small validating JSON parser that builds a tree of nodes
// in a reused arena. Strings without escapes point into the data; escaped
// ones are decoded into buf.
type jsonParser struct {
	data  []byte
	pos   int
	buf   []byte
	nodes []jnode
}

type jnode struct {
	kind        byte // '{', '[', '"', '0' (number), 't', 'f', 'n'
	start, end  int  // raw text span in data
	str         []byte
	key         []byte // member key when the parent is an object
	first, next int    // children: first child and next sibling, -1 for none
}

func (jp *jsonParser) reset(data, buf []byte) {
	jp.data, jp.pos, jp.buf, jp.nodes = data, 0, buf, jp.nodes[:0]
}

func (jp *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", jp.pos, fmt.Sprintf(format, args...))
}

func (jp *jsonParser) skipSpace() {
	for jp.pos < len(jp.data) {
		switch jp.data[jp.pos] {
		case ' ', '\t', '\n', '\r':
			jp.pos++
		default:
			return
		}
	}
}

// value parses one value at jp.pos and returns its node index.
func (jp *jsonParser) value(depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, jp.errorf("nested deeper than %d levels", maxJSONDepth)
	}
	jp.skipSpace()
	if jp.pos >= len(jp.data) {
		return 0, jp.errorf("unexpected end of JSON")
	}
	idx := len(jp.nodes)
	jp.nodes = append(jp.nodes, jnode{start: jp.pos, first: -1, next: -1})
	c := jp.data[jp.pos]
	switch {
	case c == '{' || c == '[':
		jp.nodes[idx].kind = c
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		jp.pos++
		jp.skipSpace()
		last := -1
		if jp.pos < len(jp.data) && jp.data[jp.pos] == closer {
			jp.pos++
			jp.nodes[idx].end = jp.pos
			return idx, nil
		}
		for {
			var key []byte
			if c == '{' {
				jp.skipSpace()
				if jp.pos >= len(jp.data) || jp.data[jp.pos] != '"' {
					return 0, jp.errorf("expected a string key")
				}
				k, err := jp.str()
				if err != nil {
					return 0, err
				}
				key = k
				jp.skipSpace()
				if jp.pos >= len(jp.data) || jp.data[jp.pos] != ':' {
					return 0, jp.errorf("expected : after object key")
				}
				jp.pos++
			}
			child, err := jp.value(depth + 1)
			if err != nil {
				return 0, err
			}
			jp.nodes[child].key = key
			if last < 0 {
				jp.nodes[idx].first = child
			} else {
				jp.nodes[last].next = child
			}
			last = child
			jp.skipSpace()
			if jp.pos >= len(jp.data) {
				return 0, jp.errorf("unexpected end of JSON inside %c", c)
			}
			if jp.data[jp.pos] == ',' {
				jp.pos++
				continue
			}
			if jp.data[jp.pos] == closer {
				jp.pos++
				jp.nodes[idx].end = jp.pos
				return idx, nil
			}
			return 0, jp.errorf("expected , or %c", closer)
		}
	case c == '"':
		s, err := jp.str()
		if err != nil {
			return 0, err
		}
		jp.nodes[idx].kind, jp.nodes[idx].str = '"', s
	case c == '-' || (c >= '0' && c <= '9'):
		if err := jp.number(); err != nil {
			return 0, err
		}
		jp.nodes[idx].kind = '0'
	case c == 't' || c == 'f' || c == 'n':
		lit := "null"
		switch c {
		case 't':
			lit = "true"
		case 'f':
			lit = "false"
		}
		if !bytes.HasPrefix(jp.data[jp.pos:], []byte(lit)) {
			return 0, jp.errorf("invalid literal")
		}
		jp.pos += len(lit)
		jp.nodes[idx].kind = c
	default:
		return 0, jp.errorf("unexpected %q", c)
	}
	jp.nodes[idx].end = jp.pos
	return idx, nil
}

// number validates a JSON number at jp.pos.
func (jp *jsonParser) number() error {
	d := jp.data
	i := jp.pos
	if d[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(d) && d[i] == '0' {
		i++
	} else if digits() == 0 {
		jp.pos = i
		return jp.errorf("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			jp.pos = i
			return jp.errorf("invalid number: no digits after .")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			jp.pos = i
			return jp.errorf("invalid number: no digits in exponent")
		}
	}
	jp.pos = i
	return nil
}

// str parses a string at jp.pos (on its opening quote) and returns its
// decoded content.
func (jp *jsonParser) str() ([]byte, error) {
	d := jp.data
	start := jp.pos + 1
	i := start
	for i < len(d) {
		c := d[i]
		if c == '"' {
			jp.pos = i + 1
			return d[start:i:i], nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			jp.pos = i
			return nil, jp.errorf("control character in string")
		}
		i++
	}
	if i >= len(d) {
		jp.pos = i
		return nil, jp.errorf("string is not closed")
	}
	// Slow path: escapes.
	from := len(jp.buf)
	jp.buf = append(jp.buf, d[start:i]...)
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			jp.pos = i + 1
			return jp.buf[from:len(jp.buf):len(jp.buf)], nil
		case c < 0x20:
			jp.pos = i
			return nil, jp.errorf("control character in string")
		case c != '\\':
			jp.buf = append(jp.buf, c)
			i++
			continue
		}
		if i+1 >= len(d) {
			break
		}
		e := d[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			jp.buf = append(jp.buf, e)
		case 'b':
			jp.buf = append(jp.buf, '\b')
		case 'f':
			jp.buf = append(jp.buf, '\f')
		case 'n':
			jp.buf = append(jp.buf, '\n')
		case 'r':
			jp.buf = append(jp.buf, '\r')
		case 't':
			jp.buf = append(jp.buf, '\t')
		case 'u':
			r, ok := hex4(d, i)
			if !ok {
				jp.pos = i
				return nil, jp.errorf("invalid \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(d, i+2); ok && i+1 < len(d) && d[i] == '\\' && d[i+1] == 'u' {
					if rr := utf16.DecodeRune(r, r2); rr != utf8.RuneError {
						r = rr
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			jp.buf = utf8.AppendRune(jp.buf, r)
		default:
			jp.pos = i - 1
			return nil, jp.errorf("invalid escape \\%c", e)
		}
	}
	jp.pos = len(d)
	return nil, jp.errorf("string is not closed")
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// lookup follows a compiled path from node n; -1 when the record lacks it.
func (jp *jsonParser) lookup(n int, segs []pathSeg) int {
	for _, s := range segs {
		if n < 0 {
			return -1
		}
		node := &jp.nodes[n]
		found := -1
		switch {
		case s.isKey && node.kind == '{':
			for c := node.first; c >= 0; c = jp.nodes[c].next {
				if string(jp.nodes[c].key) == s.key {
					found = c // the last duplicate wins, as in encoding/json
				}
			}
		case !s.isKey && node.kind == '[':
			k := 0
			for c := node.first; c >= 0; c = jp.nodes[c].next {
				if k == s.index {
					found = c
					break
				}
				k++
			}
		}
		n = found
	}
	return n
}

// valueOf converts node n (-1: absent) to a row value.
func (jp *jsonParser) valueOf(n int) Value {
	if n < 0 {
		return Value{Null: true}
	}
	node := &jp.nodes[n]
	switch node.kind {
	case 'n':
		return Value{Null: true}
	case '"':
		return Value{Raw: node.str, Quoted: true}
	case '{', '[':
		return Value{Raw: jp.data[node.start:node.end:node.end], Quoted: true}
	}
	return Value{Raw: jp.data[node.start:node.end:node.end]}
}

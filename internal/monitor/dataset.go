package monitor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// This file reads a training data set (the baselining job's input) into a
// Profiler. The readers assemble rows into reused buffers and hand cells to
// the profiler as views of the input, so reading costs no allocation per row
// once the buffers have grown.

// Dataset kinds accepted by DatasetFormat.Kind.
const (
	DatasetCSV     = "csv"
	DatasetJSONL   = "jsonl"
	DatasetParquet = "parquet"
)

// DatasetFormat describes a data set's encoding, like SageMaker's
// dataset_format.
type DatasetFormat struct {
	Kind   string // "csv", "jsonl", "parquet"
	Header bool   // csv: first line names the columns
}

// datasetCheckEvery is how many rows pass between checks of the context and calls
// of the progress function.
const datasetCheckEvery = 4096

// jsonlMaxDepth bounds the nesting of a JSON Lines object.
const jsonlMaxDepth = 64

// ProfileDataset streams a data set through a profiler. progress, if non-nil,
// is called with bytes consumed so far (rate-limited by the caller is fine).
//
// CSV follows RFC 4180: fields may be quoted with '"', a doubled quote
// inside a quoted field is a quote, and quoted fields may span lines. Lines
// may end in "\n" or "\r\n", blank lines are skipped and a UTF-8 byte order
// mark is dropped. Rows may be ragged: missing trailing fields are missing
// values and extra fields add columns named "_c<i>". With f.Header the first
// line names the columns, replacing opts.Names; an empty header name becomes
// "_c<i>" and a repeated one is an error.
//
// JSON Lines holds one JSON object per line. Nested objects are flattened
// with "."-joined keys ({"a":{"b":1}} is column "a.b") and arrays with an
// index suffix ({"a":[1,2]} is columns "a[0]" and "a[1]"), so every leaf is
// a column and captured payload arrays can be profiled. JSON strings are
// String cells, numbers are typed by their text, true and false are String
// cells, null is missing. Empty objects and arrays add nothing.
//
// Parquet needs random access: r is used directly when it is an
// io.ReaderAt and io.Seeker (an *os.File), else it is read into memory
// first. See ProfileParquet.
//
// Errors name the line (CSV, JSON Lines) or row (Parquet) at fault.
func ProfileDataset(ctx context.Context, r io.Reader, f DatasetFormat, opts ProfilerOptions, progress func(n int64)) (*Profiler, error) {
	switch f.Kind {
	case DatasetCSV:
		return profileCSV(ctx, r, f.Header, opts, progress)
	case DatasetJSONL:
		return profileJSONL(ctx, r, opts, progress)
	case DatasetParquet:
		if ra, ok := r.(interface {
			io.ReaderAt
			io.Seeker
		}); ok {
			size, err := ra.Seek(0, io.SeekEnd)
			if err != nil {
				return nil, fmt.Errorf("profile parquet data set: size input: %w", err)
			}
			return ProfileParquet(ctx, ra, size, opts, progress)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("profile parquet data set: read input: %w", err)
		}
		return ProfileParquet(ctx, bytes.NewReader(b), int64(len(b)), opts, progress)
	}
	return nil, fmt.Errorf("profile data set: unknown format %q (want %q, %q or %q)", f.Kind, DatasetCSV, DatasetJSONL, DatasetParquet)
}

// dsLineReader reads lines without their terminator, counting lines and
// bytes. A line is valid until the next call.
type dsLineReader struct {
	br       *bufio.Reader
	long     []byte // holds a line longer than the bufio buffer
	line     int64  // number of the line last returned, from 1
	consumed int64
}

func newDSLineReader(r io.Reader) *dsLineReader {
	return &dsLineReader{br: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next line, or io.EOF after the last one.
func (lr *dsLineReader) next() ([]byte, error) {
	b, err := lr.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		lr.long = append(lr.long[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = lr.br.ReadSlice('\n')
			lr.long = append(lr.long, b...)
		}
		b = lr.long
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(b) == 0 {
		return nil, io.EOF
	}
	lr.line++
	lr.consumed += int64(len(b))
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	if lr.line == 1 {
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	}
	return b, nil
}

// dsLoop runs read for each row, checking ctx and reporting progress.
type dsLoop struct {
	ctx      context.Context
	progress func(int64)
	n        int
}

func (l *dsLoop) tick(consumed int64) error {
	l.n++
	if l.n%datasetCheckEvery != 0 {
		return nil
	}
	if l.progress != nil {
		l.progress(consumed)
	}
	return l.ctx.Err()
}

func (l *dsLoop) done(consumed int64) {
	if l.progress != nil {
		l.progress(consumed)
	}
}

// dsCSVRecord splits CSV records into Values.
type dsCSVRecord struct {
	lr    *dsLineReader
	vals  []Value
	buf   []byte // unquoted field bytes of a record with quotes
	ends  []int  // end offsets of the fields in buf
	start int64  // line on which the record began
}

// next reads one record; its Values alias the input until the next call.
// It returns io.EOF after the last record.
func (c *dsCSVRecord) next() ([]Value, error) {
	var line []byte
	var err error
	for {
		if line, err = c.lr.next(); err != nil {
			return nil, err
		}
		if len(line) > 0 {
			break
		}
	}
	c.start = c.lr.line
	if bytes.IndexByte(line, '"') < 0 {
		c.vals = c.vals[:0]
		for {
			i := bytes.IndexByte(line, ',')
			if i < 0 {
				c.vals = append(c.vals, Value{Raw: line, Null: len(line) == 0})
				return c.vals, nil
			}
			c.vals = append(c.vals, Value{Raw: line[:i:i], Null: i == 0})
			line = line[i+1:]
		}
	}
	return c.slow(line)
}

// slow parses a record that contains quotes, copying the unquoted fields
// into c.buf.
func (c *dsCSVRecord) slow(line []byte) ([]Value, error) {
	c.buf, c.ends = c.buf[:0], c.ends[:0]
	pos := 0
	for {
		if pos < len(line) && line[pos] == '"' {
			opened := c.lr.line
			pos++
			for {
				q := bytes.IndexByte(line[pos:], '"')
				if q < 0 {
					// The field goes on past the end of this line.
					c.buf = append(c.buf, line[pos:]...)
					c.buf = append(c.buf, '\n')
					var err error
					if line, err = c.lr.next(); err != nil {
						if err == io.EOF {
							return nil, fmt.Errorf("line %d: quoted field is not closed before the end of the input", opened)
						}
						return nil, err
					}
					pos = 0
					continue
				}
				c.buf = append(c.buf, line[pos:pos+q]...)
				pos += q + 1
				if pos < len(line) && line[pos] == '"' {
					c.buf = append(c.buf, '"')
					pos++
					continue
				}
				break
			}
			c.ends = append(c.ends, len(c.buf))
			if pos == len(line) {
				break
			}
			if line[pos] != ',' {
				return nil, fmt.Errorf("line %d, column %d: unexpected %q after a closing quote", c.lr.line, pos+1, line[pos])
			}
			pos++
			if pos == len(line) {
				c.ends = append(c.ends, len(c.buf)) // trailing empty field
				break
			}
			continue
		}
		end := len(line)
		if i := bytes.IndexByte(line[pos:], ','); i >= 0 {
			end = pos + i
		}
		if q := bytes.IndexByte(line[pos:end], '"'); q >= 0 {
			return nil, fmt.Errorf("line %d, column %d: quote inside an unquoted field", c.lr.line, pos+q+1)
		}
		c.buf = append(c.buf, line[pos:end]...)
		c.ends = append(c.ends, len(c.buf))
		if end == len(line) {
			break
		}
		pos = end + 1
		if pos == len(line) {
			c.ends = append(c.ends, len(c.buf))
			break
		}
	}
	c.vals = c.vals[:0]
	from := 0
	for _, to := range c.ends {
		f := c.buf[from:to:to]
		c.vals = append(c.vals, Value{Raw: f, Null: len(f) == 0})
		from = to
	}
	return c.vals, nil
}

func profileCSV(ctx context.Context, r io.Reader, header bool, opts ProfilerOptions, progress func(int64)) (*Profiler, error) {
	rec := &dsCSVRecord{lr: newDSLineReader(r)}
	if header {
		vals, err := rec.next()
		if err == io.EOF {
			return NewProfiler(opts), nil
		}
		if err != nil {
			return nil, fmt.Errorf("profile csv: %w", err)
		}
		names := make([]string, len(vals))
		seen := make(map[string]int, len(vals))
		for i, v := range vals {
			names[i] = string(v.Raw)
			if names[i] == "" {
				names[i] = "_c" + strconv.Itoa(i)
			}
			if j, dup := seen[names[i]]; dup {
				return nil, fmt.Errorf("profile csv: line %d: header names column %d and column %d both %q", rec.start, j+1, i+1, names[i])
			}
			seen[names[i]] = i
		}
		opts.Names = names
	}
	p := NewProfiler(opts)
	row := Row{}
	loop := dsLoop{ctx: ctx, progress: progress}
	for {
		vals, err := rec.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("profile csv: %w", err)
		}
		row.Values = vals
		p.Add(&row)
		if err := loop.tick(rec.lr.consumed); err != nil {
			return nil, fmt.Errorf("profile csv: line %d: %w", rec.start, err)
		}
	}
	loop.done(rec.lr.consumed)
	return p, nil
}

// jsonlRow parses one JSON Lines object into a flat Row.
type jsonlRow struct {
	row     Row
	key     []byte            // the flattened name being built
	scratch []byte            // unescaped string values
	spans   []jsonlSpan       // which Values live in scratch
	intern  map[string]string // flattened names, allocated once each
	line    []byte
	pos     int
}

type jsonlSpan struct{ val, from, to int }

type jsonlError struct {
	pos int
	msg string
}

func (e *jsonlError) Error() string { return fmt.Sprintf("column %d: %s", e.pos+1, e.msg) }

func (j *jsonlRow) fail(format string, args ...any) error {
	return &jsonlError{pos: j.pos, msg: fmt.Sprintf(format, args...)}
}

// parse fills j.row from line, which holds one object.
func (j *jsonlRow) parse(line []byte) error {
	j.line, j.pos = line, 0
	j.row.Names, j.row.Values = j.row.Names[:0], j.row.Values[:0]
	j.scratch, j.spans, j.key = j.scratch[:0], j.spans[:0], j.key[:0]
	j.skipSpace()
	if j.pos == len(line) || line[j.pos] != '{' {
		return j.fail("a line must hold a JSON object")
	}
	if err := j.object(0); err != nil {
		return err
	}
	j.skipSpace()
	if j.pos != len(line) {
		return j.fail("unexpected %q after the object", line[j.pos])
	}
	for _, s := range j.spans {
		j.row.Values[s.val].Raw = j.scratch[s.from:s.to:s.to]
	}
	return nil
}

func (j *jsonlRow) skipSpace() {
	for j.pos < len(j.line) {
		switch j.line[j.pos] {
		case ' ', '\t', '\r', '\n':
			j.pos++
		default:
			return
		}
	}
}

// object parses an object at j.pos; j.key holds its name prefix.
func (j *jsonlRow) object(depth int) error {
	if depth > jsonlMaxDepth {
		return j.fail("objects and arrays nest deeper than %d levels", jsonlMaxDepth)
	}
	prefix := len(j.key)
	j.pos++ // '{'
	j.skipSpace()
	if j.pos < len(j.line) && j.line[j.pos] == '}' {
		j.pos++
		return nil
	}
	for {
		j.skipSpace()
		if j.pos == len(j.line) || j.line[j.pos] != '"' {
			return j.fail("expected a quoted key")
		}
		j.key = j.key[:prefix]
		if prefix > 0 {
			j.key = append(j.key, '.')
		}
		var err error
		if j.key, err = j.str(j.key); err != nil {
			return err
		}
		j.skipSpace()
		if j.pos == len(j.line) || j.line[j.pos] != ':' {
			return j.fail("expected ':' after a key")
		}
		j.pos++
		if err := j.value(depth); err != nil {
			return err
		}
		j.skipSpace()
		if j.pos == len(j.line) {
			return j.fail("object is not closed")
		}
		switch j.line[j.pos] {
		case ',':
			j.pos++
		case '}':
			j.pos++
			j.key = j.key[:prefix]
			return nil
		default:
			return j.fail("expected ',' or '}' in an object, found %q", j.line[j.pos])
		}
	}
}

// array parses an array at j.pos, naming element i j.key+"[i]".
func (j *jsonlRow) array(depth int) error {
	if depth > jsonlMaxDepth {
		return j.fail("objects and arrays nest deeper than %d levels", jsonlMaxDepth)
	}
	prefix := len(j.key)
	j.pos++ // '['
	j.skipSpace()
	if j.pos < len(j.line) && j.line[j.pos] == ']' {
		j.pos++
		return nil
	}
	for i := 0; ; i++ {
		j.key = append(j.key[:prefix], '[')
		j.key = strconv.AppendInt(j.key, int64(i), 10)
		j.key = append(j.key, ']')
		if err := j.value(depth); err != nil {
			return err
		}
		j.skipSpace()
		if j.pos == len(j.line) {
			return j.fail("array is not closed")
		}
		switch j.line[j.pos] {
		case ',':
			j.pos++
		case ']':
			j.pos++
			j.key = j.key[:prefix]
			return nil
		default:
			return j.fail("expected ',' or ']' in an array, found %q", j.line[j.pos])
		}
	}
}

// value parses the value named j.key.
func (j *jsonlRow) value(depth int) error {
	j.skipSpace()
	if j.pos == len(j.line) {
		return j.fail("expected a value")
	}
	switch c := j.line[j.pos]; {
	case c == '{':
		return j.object(depth + 1)
	case c == '[':
		return j.array(depth + 1)
	case c == '"':
		start := j.pos + 1
		from := len(j.scratch)
		var err error
		if j.scratch, err = j.str(j.scratch); err != nil {
			return err
		}
		if j.pos-1-start == len(j.scratch)-from {
			// No escapes: alias the line and give the bytes back.
			j.scratch = j.scratch[:from]
			j.emit(Value{Raw: j.line[start : j.pos-1 : j.pos-1], Quoted: true})
			return nil
		}
		j.spans = append(j.spans, jsonlSpan{val: len(j.row.Values), from: from, to: len(j.scratch)})
		j.emit(Value{Quoted: true})
		return nil
	case c == '-' || c-'0' <= 9:
		start := j.pos
		if err := j.number(); err != nil {
			return err
		}
		j.emit(Value{Raw: j.line[start:j.pos:j.pos]})
		return nil
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(j.line[j.pos:], []byte(lit)) {
				raw := j.line[j.pos : j.pos+len(lit) : j.pos+len(lit)]
				j.pos += len(lit)
				j.emit(Value{Raw: raw, Null: lit == "null"})
				return nil
			}
		}
		return j.fail("unexpected %q where a value should be", c)
	}
}

// emit appends a cell named j.key.
func (j *jsonlRow) emit(v Value) {
	name, ok := j.intern[string(j.key)]
	if !ok {
		name = string(j.key)
		j.intern[name] = name
	}
	j.row.Names = append(j.row.Names, name)
	j.row.Values = append(j.row.Values, v)
}

// number checks a JSON number at j.pos and moves past it.
func (j *jsonlRow) number() error {
	l, i := j.line, j.pos
	digits := func() int {
		s := i
		for i < len(l) && l[i]-'0' <= 9 {
			i++
		}
		return i - s
	}
	if l[i] == '-' {
		i++
	}
	switch {
	case i < len(l) && l[i] == '0':
		i++
	case digits() == 0:
		j.pos = i
		return j.fail("malformed number")
	}
	if i < len(l) && l[i] == '.' {
		i++
		if digits() == 0 {
			j.pos = i
			return j.fail("malformed number")
		}
	}
	if i < len(l) && (l[i] == 'e' || l[i] == 'E') {
		i++
		if i < len(l) && (l[i] == '+' || l[i] == '-') {
			i++
		}
		if digits() == 0 {
			j.pos = i
			return j.fail("malformed number")
		}
	}
	j.pos = i
	return nil
}

// str appends the unescaped string at j.pos to dst and moves past it.
func (j *jsonlRow) str(dst []byte) ([]byte, error) {
	l := j.line
	j.pos++ // opening quote
	for {
		i := j.pos
		for i < len(l) && l[i] != '"' && l[i] != '\\' && l[i] >= 0x20 {
			i++
		}
		dst = append(dst, l[j.pos:i]...)
		j.pos = i
		if i == len(l) {
			return dst, j.fail("string is not closed")
		}
		switch c := l[i]; {
		case c == '"':
			j.pos++
			return dst, nil
		case c < 0x20:
			return dst, j.fail("control character %#02x in a string", c)
		}
		// A backslash escape.
		if i+1 == len(l) {
			return dst, j.fail("string is not closed")
		}
		switch e := l[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n, ok := jsonlDecodeU(l[i:])
			if !ok {
				return dst, j.fail(`malformed \u escape`)
			}
			dst = utf8.AppendRune(dst, r)
			j.pos = i + n
			continue
		default:
			return dst, j.fail("unknown escape \\%c", e)
		}
		j.pos = i + 2
	}
}

// jsonlDecodeU decodes a \uXXXX escape, or a surrogate pair of two, at the start
// of b. A lone surrogate becomes U+FFFD, as encoding/json does.
func jsonlDecodeU(b []byte) (rune, int, bool) {
	hex4 := func(b []byte) (rune, bool) {
		if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(viewString(b[2:6]), 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex4(b)
	if !ok {
		return 0, 0, false
	}
	if r < 0xd800 || r >= 0xe000 {
		return r, 6, true
	}
	if r < 0xdc00 {
		if r2, ok := hex4(b[6:]); ok && r2 >= 0xdc00 && r2 < 0xe000 {
			return 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00), 12, true
		}
	}
	return utf8.RuneError, 6, true
}

func profileJSONL(ctx context.Context, r io.Reader, opts ProfilerOptions, progress func(int64)) (*Profiler, error) {
	lr := newDSLineReader(r)
	p := NewProfiler(opts)
	j := &jsonlRow{intern: make(map[string]string)}
	loop := dsLoop{ctx: ctx, progress: progress}
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("profile jsonl: %w", err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := j.parse(line); err != nil {
			return nil, fmt.Errorf("profile jsonl: line %d: %w", lr.line, err)
		}
		if j.row.Names == nil {
			j.row.Names = []string{} // an empty object is a named row with no cells
		}
		p.Add(&j.row)
		if err := loop.tick(lr.consumed); err != nil {
			return nil, fmt.Errorf("profile jsonl: line %d: %w", lr.line, err)
		}
	}
	loop.done(lr.consumed)
	return p, nil
}

// ProfileParquet profiles a Parquet file. Column names are the leaf paths
// joined with "." (a column inside an optional group "g" is "g.x");
// repeated columns (lists, maps) are rejected. Cells are handed to the
// profiler as text, so they are typed exactly as CSV cells are, except that
// BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY values are quoted (always String),
// FLOAT and DOUBLE values always carry a decimal point or exponent (so they
// are Fractional even when whole), BOOLEAN values are the Strings "true" and
// "false", integers with a DECIMAL annotation are scaled, unsigned integers
// are read as unsigned, and INT96 timestamps are Strings. DECIMAL stored as
// a byte array is rejected. As everywhere, an empty value is missing.
// progress is called with the compressed bytes of the row groups read.
func ProfileParquet(ctx context.Context, r io.ReaderAt, size int64, opts ProfilerOptions, progress func(n int64)) (*Profiler, error) {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("profile parquet: open file: %w", err)
	}
	schema := f.Schema()
	paths := schema.Columns()
	cols := make([]pqColumn, len(paths))
	names := make([]string, len(paths))
	for _, path := range paths {
		leaf, ok := schema.Lookup(path...)
		if !ok {
			return nil, fmt.Errorf("profile parquet: column %q is not in the schema", strings.Join(path, "."))
		}
		name := strings.Join(path, ".")
		if leaf.MaxRepetitionLevel > 0 {
			return nil, fmt.Errorf("profile parquet: column %q is repeated (a list or map); only flat columns can be profiled", name)
		}
		pc, err := pqColumnOf(leaf.Node.Type())
		if err != nil {
			return nil, fmt.Errorf("profile parquet: column %q: %w", name, err)
		}
		cols[leaf.ColumnIndex] = pc
		names[leaf.ColumnIndex] = name
	}
	opts.Names = names
	p := NewProfiler(opts)
	row := Row{Values: make([]Value, len(cols))}
	spans := make([][2]int, len(cols)) // where each text cell lies in scratch; {-1, -1} for none
	var scratch []byte
	buf := make([]parquet.Row, 256)
	loop := dsLoop{ctx: ctx, progress: progress}
	var consumed, rowNum int64
	for gi, rg := range f.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, pr := range buf[:n] {
				rowNum++
				scratch = scratch[:0]
				for i := range row.Values {
					row.Values[i] = Value{Null: true}
					spans[i] = [2]int{-1, -1}
				}
				for _, v := range pr {
					ci := v.Column()
					if ci < 0 || ci >= len(cols) || v.IsNull() {
						continue
					}
					pc := cols[ci]
					if pc.bytes {
						b := v.ByteArray()
						row.Values[ci] = Value{Raw: b, Null: len(b) == 0, Quoted: true}
						continue
					}
					from := len(scratch)
					scratch = pc.appendText(scratch, v)
					spans[ci] = [2]int{from, len(scratch)}
					row.Values[ci] = Value{Quoted: pc.quoted}
				}
				// Point the text cells into scratch now that it has stopped growing.
				for i, sp := range spans {
					if sp[0] >= 0 {
						row.Values[i].Raw = scratch[sp[0]:sp[1]:sp[1]]
					}
				}
				p.Add(&row)
				if err := loop.tick(consumed); err != nil {
					rows.Close()
					return nil, fmt.Errorf("profile parquet: row %d: %w", rowNum, err)
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("profile parquet: row group %d after row %d: %w", gi, rowNum, err)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("profile parquet: row group %d: %w", gi, err)
		}
		if gi < len(f.Metadata().RowGroups) {
			consumed += f.Metadata().RowGroups[gi].TotalCompressedSize
		}
		if progress != nil {
			progress(consumed)
		}
	}
	return p, nil
}

// pqColumn says how a leaf column's values become text.
type pqColumn struct {
	kind     parquet.Kind
	bytes    bool // BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY: the bytes are the cell
	quoted   bool
	unsigned bool
	scale    int // DECIMAL scale of an integer column
}

func pqColumnOf(t parquet.Type) (pqColumn, error) {
	pc := pqColumn{kind: t.Kind()}
	var lt format.LogicalTypeValue
	if l := t.LogicalType(); l != nil {
		lt = l.Value
	}
	switch pc.kind {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		if _, ok := lt.(*format.DecimalType); ok {
			return pc, errors.New("DECIMAL stored as a byte array is not supported")
		}
		pc.bytes, pc.quoted = true, true
	case parquet.Int96:
		pc.quoted = true
	case parquet.Int32, parquet.Int64:
		switch l := lt.(type) {
		case *format.DecimalType:
			pc.scale = int(l.Scale)
		case *format.IntType:
			pc.unsigned = !l.IsSigned
		}
	}
	return pc, nil
}

// appendText appends the text of a non-null, non-byte-array value.
func (pc pqColumn) appendText(dst []byte, v parquet.Value) []byte {
	switch pc.kind {
	case parquet.Boolean:
		return strconv.AppendBool(dst, v.Boolean())
	case parquet.Int32, parquet.Int64:
		var x int64
		if pc.kind == parquet.Int32 {
			x = int64(v.Int32())
			if pc.unsigned {
				x = int64(uint32(v.Int32()))
			}
		} else {
			x = v.Int64()
		}
		start := len(dst)
		if pc.unsigned && pc.kind == parquet.Int64 {
			dst = strconv.AppendUint(dst, uint64(x), 10)
		} else {
			dst = strconv.AppendInt(dst, x, 10)
		}
		if pc.scale > 0 {
			dst = insertDecimalPoint(dst, start, pc.scale)
		}
		return dst
	case parquet.Float:
		return appendFractional(dst, float64(v.Float()), 32)
	case parquet.Double:
		return appendFractional(dst, v.Double(), 64)
	}
	return fmt.Appendf(dst, "%v", v) // INT96
}

// appendFractional appends x so that it reads back as a Fractional:
// whole numbers get ".0".
func appendFractional(dst []byte, x float64, bits int) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, x, 'g', -1, bits)
	if !bytes.ContainsAny(dst[start:], ".eEnN") {
		dst = append(dst, ".0"...)
	}
	return dst
}

// insertDecimalPoint turns the integer text dst[start:] into a fixed-point
// number with scale digits after the point.
func insertDecimalPoint(dst []byte, start, scale int) []byte {
	digits := dst[start:]
	neg := len(digits) > 0 && digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	var out []byte
	if len(digits) <= scale {
		out = append([]byte("0."), bytes.Repeat([]byte{'0'}, scale-len(digits))...)
		out = append(out, digits...)
	} else {
		out = append(out, digits[:len(digits)-scale]...)
		out = append(out, '.')
		out = append(out, digits[len(digits)-scale:]...)
	}
	dst = dst[:start]
	if neg {
		dst = append(dst, '-')
	}
	return append(dst, out...)
}

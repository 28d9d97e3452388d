package capture

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a hand-written decoder for capture lines. encoding/json
// spends about 4 µs on a typical 520-byte line, most of it in reflection and
// in validating the input twice; the monitor reads millions of lines per run,
// so DecodeRecord and DecodeRecordInto try decodeFast first and fall back to
// encoding/json only for lines it declines.
//
// The contract of decodeFast is one-sided: when it returns true, the Record
// is exactly what json.Unmarshal would have produced from the same line, and
// whenever json.Unmarshal would fail, decodeFast returns false. It declines
// (returns false) rather than guess whenever encoding/json's behaviour is
// subtle:
//
//   - a key that is repeated inside one object (encoding/json merges or
//     overwrites, depending on the value);
//   - a key with a backslash escape or a non-ASCII byte, and an unknown key
//     that equals a field name apart from letter case (encoding/json matches
//     keys case-insensitively, with Unicode folding);
//   - a value of the wrong JSON type for its field, an integer field holding
//     a fraction, an exponent or an out-of-range number;
//   - unknown values nested deeper than maxSkipDepth;
//   - anything that is not valid JSON, or text after the top-level object.
//
// Strings are decoded exactly as encoding/json decodes them: every escape
// including \uXXXX and surrogate pairs, a lone or mismatched surrogate
// becomes U+FFFD, and each byte of invalid UTF-8 becomes U+FFFD. FuzzDecodeFast
// checks all of this against json.Unmarshal.
//
// Each string field is its own allocation (never a slice of a shared copy of
// the line), so a caller that keeps one field of a record does not keep the
// whole line alive. Common constant values (modes, encodings, "0", usual
// content types) are not allocated at all.

// maxSkipDepth bounds the nesting of unknown values that decodeFast skips;
// deeper input is left to encoding/json, which has its own limit.
const maxSkipDepth = 64

// DecodeRecordInto is DecodeRecord for hot loops: it decodes line into r,
// reusing r and the Payload and Extra structs r already points to, and
// checks the record the same way. On success r holds exactly what
// DecodeRecord would return; on error r's contents are unspecified.
//
// Because the pointed-to structs are reused, a caller that wants to keep a
// previous record (or one of its payloads) past the next call must copy it
// first. String fields are always fresh allocations and may be kept.
func DecodeRecordInto(line []byte, r *Record) error {
	in, out, extra := r.CaptureData.EndpointInput, r.CaptureData.EndpointOutput, r.Glassbox
	*r = Record{}
	d := fastDecoder{s: line, spareIn: in, spareOut: out, spareExtra: extra}
	if !d.record(r) {
		// json.Unmarshal decodes into whatever r already holds, so r is
		// cleared again: the fast path may have filled part of it.
		*r = Record{}
		if err := json.Unmarshal(line, r); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
		}
	}
	return validateRecord(r)
}

// validateRecord checks the parts every reader relies on: an eventId, a
// parseable inferenceTime, and payloads with a known mode and encoding.
func validateRecord(r *Record) error {
	if r.EventMetadata.EventID == "" {
		return fmt.Errorf("%w: eventMetadata.eventId is missing", ErrInvalidRecord)
	}
	if _, err := r.Time(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	for _, p := range []struct {
		name string
		p    *Payload
		mode string
	}{{"endpointInput", r.CaptureData.EndpointInput, ModeInput}, {"endpointOutput", r.CaptureData.EndpointOutput, ModeOutput}} {
		if p.p == nil {
			continue
		}
		if p.p.Mode != p.mode {
			return fmt.Errorf("%w: captureData.%s.mode is %q, want %q", ErrInvalidRecord, p.name, p.p.Mode, p.mode)
		}
		switch p.p.Encoding {
		case EncodingCSV, EncodingJSON, EncodingBase64:
		default:
			return fmt.Errorf("%w: captureData.%s.encoding %q is not CSV, JSON or BASE64", ErrInvalidRecord, p.name, p.p.Encoding)
		}
	}
	return nil
}

// decodeFast decodes one capture line into r, which must be the zero Record.
// It returns false for any line it does not fully handle (see the comment at
// the top of this file); r's contents are then unspecified and the caller
// must clear r before trying encoding/json.
func decodeFast(line []byte, r *Record) bool {
	d := fastDecoder{s: line}
	return d.record(r)
}

// fastDecoder is a cursor over one line. The spare fields are structs from
// a previous record that DecodeRecordInto lets the decoder reuse.
type fastDecoder struct {
	s          []byte
	i          int
	spareIn    *Payload
	spareOut   *Payload
	spareExtra *Extra
}

// Field names of each struct, as encoding/json sees them. An unknown key
// that equals one of these apart from case makes the decoder decline.
var (
	recordKeys   = [...]string{"captureData", "eventMetadata", "eventVersion", "glassbox"}
	captureKeys  = [...]string{"endpointInput", "endpointOutput"}
	payloadKeys  = [...]string{"observedContentType", "mode", "data", "encoding"}
	metadataKeys = [...]string{"eventId", "inferenceId", "customAttributes", "inferenceTime"}
	extraKeys    = [...]string{"endpoint", "variant", "time", "status", "latency_us", "method", "path",
		"input_bytes", "output_bytes", "input_truncated", "output_truncated", "error", "redactions",
		"payload_stripped"}
)

// record decodes the whole line: one object, then only white space.
func (d *fastDecoder) record(r *Record) bool {
	d.ws()
	var seen uint32
	ok := d.object(func(key []byte) bool {
		i := index(recordKeys[:], key)
		if !d.first(&seen, i, recordKeys[:], key) {
			return false
		}
		switch i {
		case 0:
			return d.captureData(&r.CaptureData)
		case 1:
			return d.metadata(&r.EventMetadata)
		case 2:
			return d.str(&r.EventVersion)
		case 3:
			return d.extra(&r.Glassbox)
		}
		return d.skip(0)
	})
	if !ok {
		return false
	}
	d.ws()
	return d.i == len(d.s)
}

func (d *fastDecoder) captureData(c *CaptureData) bool {
	if d.null() {
		return true
	}
	var seen uint32
	return d.object(func(key []byte) bool {
		i := index(captureKeys[:], key)
		if !d.first(&seen, i, captureKeys[:], key) {
			return false
		}
		switch i {
		case 0:
			return d.payload(&c.EndpointInput, &d.spareIn)
		case 1:
			return d.payload(&c.EndpointOutput, &d.spareOut)
		}
		return d.skip(0)
	})
}

// payload decodes an object into *pp, or sets *pp to nil for null, as
// encoding/json does for a pointer field.
func (d *fastDecoder) payload(pp **Payload, spare **Payload) bool {
	if d.null() {
		*pp = nil
		return true
	}
	p := *spare
	*spare = nil
	if p == nil {
		p = new(Payload)
	} else {
		*p = Payload{}
	}
	*pp = p
	var seen uint32
	return d.object(func(key []byte) bool {
		i := index(payloadKeys[:], key)
		if !d.first(&seen, i, payloadKeys[:], key) {
			return false
		}
		switch i {
		case 0:
			return d.str(&p.ObservedContentType)
		case 1:
			return d.str(&p.Mode)
		case 2:
			return d.str(&p.Data)
		case 3:
			return d.str(&p.Encoding)
		}
		return d.skip(0)
	})
}

func (d *fastDecoder) metadata(m *EventMetadata) bool {
	if d.null() {
		return true
	}
	var seen uint32
	return d.object(func(key []byte) bool {
		i := index(metadataKeys[:], key)
		if !d.first(&seen, i, metadataKeys[:], key) {
			return false
		}
		switch i {
		case 0:
			return d.str(&m.EventID)
		case 1:
			return d.str(&m.InferenceID)
		case 2:
			return d.str(&m.CustomAttributes)
		case 3:
			return d.str(&m.InferenceTime)
		}
		return d.skip(0)
	})
}

func (d *fastDecoder) extra(pe **Extra) bool {
	if d.null() {
		*pe = nil
		return true
	}
	e := d.spareExtra
	d.spareExtra = nil
	if e == nil {
		e = new(Extra)
	} else {
		*e = Extra{}
	}
	*pe = e
	var seen uint32
	return d.object(func(key []byte) bool {
		i := index(extraKeys[:], key)
		if !d.first(&seen, i, extraKeys[:], key) {
			return false
		}
		switch i {
		case 0:
			return d.str(&e.Endpoint)
		case 1:
			return d.str(&e.Variant)
		case 2:
			return d.str(&e.Time)
		case 3:
			var n int64
			ok := d.integer(&n, strconv.IntSize)
			e.Status = int(n)
			return ok
		case 4:
			return d.integer(&e.LatencyMicros, 64)
		case 5:
			return d.str(&e.Method)
		case 6:
			return d.str(&e.Path)
		case 7:
			return d.integer(&e.InputBytes, 64)
		case 8:
			return d.integer(&e.OutputBytes, 64)
		case 9:
			return d.boolean(&e.InputTruncated)
		case 10:
			return d.boolean(&e.OutputTruncated)
		case 11:
			return d.str(&e.Error)
		case 12:
			return d.strs(&e.Redactions)
		case 13:
			return d.boolean(&e.PayloadStripped)
		}
		return d.skip(0)
	})
}

// index returns the position of key in names, or -1.
func index(names []string, key []byte) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	return -1
}

// first records that field i was seen and reports whether decoding may go
// on: false for a repeated known key, and for an unknown key that
// encoding/json would match to a field case-insensitively.
func (d *fastDecoder) first(seen *uint32, i int, names []string, key []byte) bool {
	if i < 0 {
		for _, n := range names {
			if asciiEqualFold(n, key) {
				return false
			}
		}
		return true
	}
	if *seen&(1<<i) != 0 {
		return false
	}
	*seen |= 1 << i
	return true
}

// ws skips JSON white space.
func (d *fastDecoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// null consumes a null literal at the cursor, if there is one.
func (d *fastDecoder) null() bool {
	if d.i+4 <= len(d.s) && string(d.s[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// object parses an object at the cursor and calls field for every key, with
// the cursor on the key's value; field must consume that value.
func (d *fastDecoder) object(field func(key []byte) bool) bool {
	if d.i >= len(d.s) || d.s[d.i] != '{' {
		return false
	}
	d.i++
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return true
	}
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		d.ws()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return false
		}
		d.i++
		d.ws()
		if !field(key) {
			return false
		}
		d.ws()
		if d.i >= len(d.s) {
			return false
		}
		switch d.s[d.i] {
		case ',':
			d.i++
			d.ws()
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

// key parses an object key made only of plain ASCII characters. The
// returned bytes alias the line.
func (d *fastDecoder) key() ([]byte, bool) {
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return nil, false
	}
	start := d.i + 1
	for j := start; j < len(d.s); j++ {
		c := d.s[j]
		if c == '"' {
			d.i = j + 1
			return d.s[start:j], true
		}
		if !plain[c] {
			return nil, false
		}
	}
	return nil, false
}

// asciiEqualFold reports whether name and key are equal apart from the case
// of ASCII letters; key holds only ASCII.
func asciiEqualFold(name string, key []byte) bool {
	if len(name) != len(key) {
		return false
	}
	for i := range len(key) {
		a, b := name[i], key[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// str decodes a string, or leaves *dst alone for null, as encoding/json does.
func (d *fastDecoder) str(dst *string) bool {
	if d.null() {
		return true
	}
	s, ok := d.stringValue(true)
	*dst = s
	return ok
}

// strs decodes an array of strings as encoding/json does into a []string:
// null leaves *dst alone, [] gives an empty (not nil) slice, a null element
// is "".
func (d *fastDecoder) strs(dst *[]string) bool {
	if d.null() {
		return true
	}
	if d.i >= len(d.s) || d.s[d.i] != '[' {
		return false
	}
	d.i++
	d.ws()
	out := []string{}
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		*dst = out
		return true
	}
	for {
		var s string
		if !d.str(&s) {
			return false
		}
		out = append(out, s)
		d.ws()
		if d.i >= len(d.s) {
			return false
		}
		switch d.s[d.i] {
		case ',':
			d.i++
			d.ws()
		case ']':
			d.i++
			*dst = out
			return true
		default:
			return false
		}
	}
}

// integer decodes an integer that fits in the given number of bits, or
// leaves *dst alone for null. Fractions and exponents are valid JSON numbers
// that encoding/json refuses for an integer field, so the decoder declines
// them, as it declines numbers out of range.
func (d *fastDecoder) integer(dst *int64, bits int) bool {
	if d.null() {
		return true
	}
	neg := d.i < len(d.s) && d.s[d.i] == '-'
	if neg {
		d.i++
	}
	limit := uint64(1)<<(bits-1) - 1 // largest magnitude allowed
	if neg {
		limit++
	}
	var u uint64
	switch {
	case d.i < len(d.s) && d.s[d.i] == '0':
		d.i++
	case d.i < len(d.s) && d.s[d.i] >= '1' && d.s[d.i] <= '9':
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			digit := uint64(d.s[d.i] - '0')
			if u > (limit-digit)/10 {
				return false
			}
			u = u*10 + digit
			d.i++
		}
	default:
		return false
	}
	if d.i < len(d.s) && (d.s[d.i] == '.' || d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		return false
	}
	if neg {
		*dst = -int64(u)
	} else {
		*dst = int64(u)
	}
	return true
}

// boolean decodes true or false, or leaves *dst alone for null.
func (d *fastDecoder) boolean(dst *bool) bool {
	switch {
	case d.null():
		return true
	case d.literal("true"):
		*dst = true
		return true
	case d.literal("false"):
		*dst = false
		return true
	}
	return false
}

func (d *fastDecoder) literal(lit string) bool {
	if d.i+len(lit) <= len(d.s) && string(d.s[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// skip consumes any JSON value, checking its syntax as strictly as
// encoding/json does.
func (d *fastDecoder) skip(depth int) bool {
	if depth > maxSkipDepth || d.i >= len(d.s) {
		return false
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object(func([]byte) bool { return d.skip(depth + 1) })
	case c == '[':
		d.i++
		d.ws()
		if d.i < len(d.s) && d.s[d.i] == ']' {
			d.i++
			return true
		}
		for {
			if !d.skip(depth + 1) {
				return false
			}
			d.ws()
			if d.i >= len(d.s) {
				return false
			}
			switch d.s[d.i] {
			case ',':
				d.i++
				d.ws()
			case ']':
				d.i++
				return true
			default:
				return false
			}
		}
	case c == '"':
		_, ok := d.stringValue(false)
		return ok
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	default:
		return d.literal("true") || d.literal("false") || d.null()
	}
}

// number consumes a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *fastDecoder) number() bool {
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.s) && d.s[d.i] == '0':
		d.i++
	case d.i < len(d.s) && d.s[d.i] >= '1' && d.s[d.i] <= '9':
		d.digits()
	default:
		return false
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if !d.digits() {
			return false
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return false
		}
	}
	return true
}

// digits consumes one or more decimal digits.
func (d *fastDecoder) digits() bool {
	start := d.i
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// plain marks the bytes a JSON string may hold as they are: printable
// ASCII apart from the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipPlain returns the index of the first byte at or after j that is not
// plain. It tests eight bytes at a time: a chunk is plain when no byte is
// below 0x20, equal to '"' or '\\', or has its top bit set. The zero-byte
// test used for each of these is exact for "is there any such byte", which
// is all this needs; the byte loop then finds which one.
func skipPlain(b []byte, j int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		quote := x ^ ('"' * ones)
		backslash := x ^ ('\\' * ones)
		control := (x - 0x20*ones) &^ x
		quote = (quote - ones) &^ quote
		backslash = (backslash - ones) &^ backslash
		if (control|quote|backslash|x)&highs != 0 {
			break
		}
	}
	for j < len(b) && plain[b[j]] {
		j++
	}
	return j
}

// stringValue parses a string at the cursor. With keep false it only checks
// the syntax and returns "". A string that needs no rewriting (no escapes,
// valid UTF-8) is copied once; any other is rebuilt by unquote.
func (d *fastDecoder) stringValue(keep bool) (string, bool) {
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	clean := true
	j := start
	for {
		j = skipPlain(d.s, j)
		if j >= len(d.s) {
			return "", false
		}
		c := d.s[j]
		switch {
		case c == '"':
			d.i = j + 1
			if !keep {
				return "", true
			}
			if clean {
				return intern(d.s[start:j]), true
			}
			return unquote(d.s[start:j]), true
		case c == '\\':
			n, ok := escapeLen(d.s[j:])
			if !ok {
				return "", false
			}
			clean = false
			j += n
		case c < 0x20:
			return "", false
		default:
			r, size := utf8.DecodeRune(d.s[j:])
			if r == utf8.RuneError && size == 1 {
				clean = false
			}
			j += size
		}
	}
}

// escapeLen returns the length of the escape sequence at the start of b
// (which begins with a backslash) and whether it is valid JSON.
func escapeLen(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
		if _, ok := hex4(b[2:]); ok {
			return 6, true
		}
	}
	return 0, false
}

// hex4 decodes four hexadecimal digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unquote rebuilds the contents of a string whose syntax stringValue has
// already checked, replacing escapes, lone surrogates and invalid UTF-8 the
// way encoding/json does.
func unquote(b []byte) string {
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\\':
			switch b[i+1] {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, _ := hex4(b[i+2:])
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by an escaped low surrogate
					// is one character; anything else is U+FFFD.
					if i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
						if r2, ok := hex4(b[i+8:]); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								out = utf8.AppendRune(out, dec)
								i += 12
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				i += 6
				continue
			default: // '"', '\\' and '/' stand for themselves.
				out = append(out, b[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			out = utf8.AppendRune(out, r) // RuneError for an invalid byte
			i += size
		}
	}
	return string(out)
}

// intern returns b as a string, without allocating for the values that
// nearly every capture line repeats.
func intern(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case ModeInput:
		return ModeInput
	case ModeOutput:
		return ModeOutput
	case EncodingCSV:
		return EncodingCSV
	case EncodingJSON:
		return EncodingJSON
	case EncodingBase64:
		return EncodingBase64
	case EventVersion:
		return EventVersion
	case "text/csv":
		return "text/csv"
	case "text/csv; charset=utf-8":
		return "text/csv; charset=utf-8"
	case "application/json":
		return "application/json"
	}
	return string(b)
}

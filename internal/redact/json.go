package redact

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxJSONDepth bounds nesting; deeper payloads are scanned as text.
const maxJSONDepth = 512

// jsonRewriter copies a JSON document to out, redacting as it goes. White
// space and the text of every value no rule touches are kept byte for byte.
type jsonRewriter struct {
	a     *applier
	in    []byte
	i     int
	out   []byte
	path  []pathElem
	depth int
	bad   bool
	str   []byte // scratch for decoded strings
	esc   bool   // the last string skipString passed holds a backslash
}

// json redacts b as one or more JSON values separated by white space. It
// returns false when b is not valid JSON; the caller then scans it as text.
func (a *applier) json(b []byte) ([]byte, bool) {
	w := jsonRewriter{a: a, in: b, out: make([]byte, 0, len(b)+64), path: a.path[:0], str: a.str[:0]}
	defer func() { a.path, a.str = w.path[:0], w.str[:0] }()
	values := 0
	for {
		ws := w.i
		w.ws()
		if w.i >= len(w.in) {
			break
		}
		// JSON Lines: values after the first must start on a new line
		// (so "123-45-6789" or "4111 1111" are not read as numbers).
		if values > 0 && bytes.IndexByte(w.in[ws:w.i], '\n') < 0 {
			return nil, false
		}
		w.value(nil)
		if w.bad {
			return nil, false
		}
		values++
	}
	if values == 0 {
		return nil, false
	}
	return w.out, true
}

// ws copies white space.
func (w *jsonRewriter) ws() {
	s := w.i
	for w.i < len(w.in) {
		switch w.in[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
			continue
		}
		break
	}
	w.out = append(w.out, w.in[s:w.i]...)
}

// skipWS returns the white space at the cursor without copying it.
func (w *jsonRewriter) skipWS() []byte {
	s := w.i
	for w.i < len(w.in) {
		switch w.in[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
			continue
		}
		break
	}
	return w.in[s:w.i]
}

// value rewrites the value at the cursor; rule is the path rule that
// selects it (mask or hash), or nil.
func (w *jsonRewriter) value(rule *pathRule) {
	if w.i >= len(w.in) {
		w.bad = true
		return
	}
	if rule != nil {
		start := w.i
		w.skipValue()
		if w.bad {
			return
		}
		raw := w.in[start:w.i]
		if len(raw) > 0 && raw[0] == '"' {
			raw = w.decode(raw)
		}
		w.a.fired[rule.rule] = true
		w.a.changed = true
		if rule.action == Drop { // array elements: dropped members never get here
			w.out = append(w.out, "null"...)
			return
		}
		w.a.tmp = w.a.r.replace(w.a.tmp[:0], rule.action, fieldLabel, raw)
		w.out = appendJSONString(w.out, w.a.tmp)
		return
	}
	switch c := w.in[w.i]; {
	case c == '{':
		w.object()
	case c == '[':
		w.array()
	case c == '"':
		start := w.i
		if !w.skipString() {
			return
		}
		w.stringValue(w.in[start:w.i])
	case c == '-' || isDigit(c):
		start := w.i
		if !w.number() {
			w.bad = true
			return
		}
		lit := w.in[start:w.i]
		if nv, ok := w.a.scanTmp(lit); ok {
			if len(nv) == 0 {
				w.out = append(w.out, "null"...)
			} else {
				w.out = appendJSONString(w.out, nv)
			}
			return
		}
		w.out = append(w.out, lit...)
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(w.in[w.i:], []byte(lit)) {
				w.out = append(w.out, lit...)
				w.i += len(lit)
				return
			}
		}
		w.bad = true
	}
}

// stringValue rewrites a string (raw, with quotes) with the detectors.
func (w *jsonRewriter) stringValue(raw []byte) {
	content := w.decode(raw)
	if w.bad {
		return
	}
	if nv, ok := w.a.scanTmp(content); ok {
		w.out = appendJSONString(w.out, nv)
		return
	}
	w.out = append(w.out, raw...)
}

func (w *jsonRewriter) enter() bool {
	w.depth++
	if w.depth > maxJSONDepth {
		w.bad = true
		return false
	}
	return true
}

func (w *jsonRewriter) object() {
	if !w.enter() {
		return
	}
	defer func() { w.depth-- }()
	w.i++ // '{'
	w.out = append(w.out, '{')
	pending := w.skipWS() // white space before the next member written
	if w.i < len(w.in) && w.in[w.i] == '}' {
		w.out = append(w.out, pending...)
		w.out = append(w.out, '}')
		w.i++
		return
	}
	written := 0
	for {
		if w.i >= len(w.in) || w.in[w.i] != '"' {
			w.bad = true
			return
		}
		ks := w.i
		if !w.skipString() {
			return
		}
		rawKey := w.in[ks:w.i]
		key := w.decode(rawKey)
		if w.bad {
			return
		}
		if len(key) != len(rawKey)-2 {
			key = bytes.Clone(key) // decoded into w.str, which is reused
		}
		ws1 := w.skipWS()
		if w.i >= len(w.in) || w.in[w.i] != ':' {
			w.bad = true
			return
		}
		w.i++
		ws2 := w.skipWS()
		w.path = append(w.path, pathElem{key: key, index: -1})
		var rule *pathRule
		if len(w.a.r.paths) > 0 {
			rule = w.a.r.matchPath(w.path)
		}
		if rule != nil && rule.action == Drop {
			w.skipValue()
			w.a.fired[rule.rule] = true
			w.a.changed = true
		} else {
			if written > 0 {
				w.out = append(w.out, ',')
			}
			w.out = append(w.out, pending...)
			if nk, ok := w.a.scanTmp(key); ok {
				w.out = appendJSONString(w.out, nk)
			} else {
				w.out = append(w.out, rawKey...)
			}
			w.out = append(w.out, ws1...)
			w.out = append(w.out, ':')
			w.out = append(w.out, ws2...)
			w.value(rule)
			written++
		}
		w.path = w.path[:len(w.path)-1]
		if w.bad {
			return
		}
		ws3 := w.skipWS()
		if w.i >= len(w.in) {
			w.bad = true
			return
		}
		switch w.in[w.i] {
		case ',':
			w.i++
			if rule == nil || rule.action != Drop {
				w.out = append(w.out, ws3...)
			}
			pending = w.skipWS()
		case '}':
			w.i++
			w.out = append(w.out, ws3...)
			w.out = append(w.out, '}')
			return
		default:
			w.bad = true
			return
		}
	}
}

func (w *jsonRewriter) array() {
	if !w.enter() {
		return
	}
	defer func() { w.depth-- }()
	w.i++ // '['
	w.out = append(w.out, '[')
	w.ws()
	if w.i < len(w.in) && w.in[w.i] == ']' {
		w.out = append(w.out, ']')
		w.i++
		return
	}
	for n := 0; ; n++ {
		w.path = append(w.path, pathElem{index: n})
		var rule *pathRule
		if len(w.a.r.paths) > 0 {
			rule = w.a.r.matchPath(w.path)
		}
		w.value(rule)
		w.path = w.path[:len(w.path)-1]
		if w.bad {
			return
		}
		w.ws()
		if w.i >= len(w.in) {
			w.bad = true
			return
		}
		switch w.in[w.i] {
		case ',':
			w.out = append(w.out, ',')
			w.i++
			w.ws()
		case ']':
			w.out = append(w.out, ']')
			w.i++
			return
		default:
			w.bad = true
			return
		}
	}
}

// skipValue moves past a value, checking its syntax, without writing.
func (w *jsonRewriter) skipValue() {
	if !w.enter() {
		return
	}
	defer func() { w.depth-- }()
	if w.i >= len(w.in) {
		w.bad = true
		return
	}
	switch c := w.in[w.i]; {
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		w.i++
		w.skipWS()
		if w.i < len(w.in) && w.in[w.i] == closer {
			w.i++
			return
		}
		for {
			if c == '{' {
				if w.i >= len(w.in) || w.in[w.i] != '"' || !w.skipString() {
					w.bad = true
					return
				}
				w.skipWS()
				if w.i >= len(w.in) || w.in[w.i] != ':' {
					w.bad = true
					return
				}
				w.i++
				w.skipWS()
			}
			w.skipValue()
			if w.bad {
				return
			}
			w.skipWS()
			if w.i >= len(w.in) {
				w.bad = true
				return
			}
			switch w.in[w.i] {
			case ',':
				w.i++
				w.skipWS()
			case closer:
				w.i++
				return
			default:
				w.bad = true
				return
			}
		}
	case c == '"':
		w.skipString()
	case c == '-' || isDigit(c):
		if !w.number() {
			w.bad = true
		}
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(w.in[w.i:], []byte(lit)) {
				w.i += len(lit)
				return
			}
		}
		w.bad = true
	}
}

// skipString moves past a string, checking its syntax; false (and bad)
// when it is not a valid string.
func (w *jsonRewriter) skipString() bool {
	j := w.i + 1
	w.esc = false
	for j < len(w.in) {
		// Skip eight ordinary bytes at a time.
		for j+8 <= len(w.in) && !stringSpecial8(binary.LittleEndian.Uint64(w.in[j:])) {
			j += 8
		}
		if j >= len(w.in) {
			break
		}
		c := w.in[j]
		switch {
		case c == '"':
			w.i = j + 1
			return true
		case c == '\\':
			w.esc = true
			if j+1 >= len(w.in) {
				w.bad = true
				return false
			}
			switch w.in[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(w.in) {
					w.bad = true
					return false
				}
				for _, h := range w.in[j+2 : j+6] {
					if !isHex(h) {
						w.bad = true
						return false
					}
				}
				j += 6
			default:
				w.bad = true
				return false
			}
		case c < 0x20:
			w.bad = true
			return false
		default:
			j++
		}
	}
	w.bad = true
	return false
}

// stringSpecial8 reports whether any of the eight bytes in x is a quote, a
// backslash or a control byte (below 0x20): the bytes skipString must look
// at. (The SWAR tests below have no false negatives and, for whether any
// byte matches, no false positives.)
func stringSpecial8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	less20 := (x - 0x20*ones) &^ x & highs
	q := x ^ '"'*ones
	quote := (q - ones) &^ q & highs
	bs := x ^ '\\'*ones
	backslash := (bs - ones) &^ bs & highs
	return less20|quote|backslash != 0
}

// decode returns the content of a string (raw, with quotes, already
// checked by skipString, which must have been the last string it passed).
// Without escapes it is a sub-slice of raw; otherwise it is decoded into
// w.str, valid until the next call.
func (w *jsonRewriter) decode(raw []byte) []byte {
	body := raw[1 : len(raw)-1]
	if !w.esc {
		return body
	}
	out := w.str[:0]
	for k := 0; k < len(body); {
		c := body[k]
		if c != '\\' {
			out = append(out, c)
			k++
			continue
		}
		switch e := body[k+1]; e {
		case 'u':
			r1, _ := strconv.ParseUint(string(body[k+2:k+6]), 16, 32)
			k += 6
			r := rune(r1)
			if utf16.IsSurrogate(r) {
				if k+6 <= len(body) && body[k] == '\\' && body[k+1] == 'u' {
					r2, _ := strconv.ParseUint(string(body[k+2:k+6]), 16, 32)
					if d := utf16.DecodeRune(r, rune(r2)); d != utf8.RuneError {
						r = d
						k += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		case 'b':
			out, k = append(out, '\b'), k+2
		case 'f':
			out, k = append(out, '\f'), k+2
		case 'n':
			out, k = append(out, '\n'), k+2
		case 'r':
			out, k = append(out, '\r'), k+2
		case 't':
			out, k = append(out, '\t'), k+2
		default: // " \ /
			out, k = append(out, e), k+2
		}
	}
	w.str = out
	return out
}

// number moves past a JSON number.
func (w *jsonRewriter) number() bool {
	j := w.i
	if j < len(w.in) && w.in[j] == '-' {
		j++
	}
	switch {
	case j < len(w.in) && w.in[j] == '0':
		j++
	case j < len(w.in) && w.in[j] >= '1' && w.in[j] <= '9':
		for j < len(w.in) && isDigit(w.in[j]) {
			j++
		}
	default:
		return false
	}
	if j < len(w.in) && w.in[j] == '.' {
		j++
		s := j
		for j < len(w.in) && isDigit(w.in[j]) {
			j++
		}
		if j == s {
			return false
		}
	}
	if j < len(w.in) && (w.in[j] == 'e' || w.in[j] == 'E') {
		j++
		if j < len(w.in) && (w.in[j] == '+' || w.in[j] == '-') {
			j++
		}
		s := j
		for j < len(w.in) && isDigit(w.in[j]) {
			j++
		}
		if j == s {
			return false
		}
	}
	w.i = j
	return true
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control bytes escaped, everything else as is.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

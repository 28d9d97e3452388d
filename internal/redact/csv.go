package redact

import "bytes"

// csv redacts b as CSV records. Fields are copied byte for byte unless a
// rule changes them; a changed field is quoted when it was quoted or when
// its new content needs quotes. An unterminated quoted field runs to the
// end of the payload and is scanned as text. Column rules by name use the
// first row as the header when it holds the name, and leave that row's
// fields alone.
func (a *applier) csv(b []byte) []byte {
	r := a.r
	out := make([]byte, 0, len(b)+64)
	var named []colRule // column rules by name, resolved from the header
	header := r.named
	row, col := 0, 0
	i := 0
	for {
		// One field: b[i:j] is its raw text, content its value.
		j := i
		quoted := j < len(b) && b[j] == '"'
		var content []byte
		if quoted {
			j++
			escaped, closed := false, false
			for {
				k := bytes.IndexByte(b[j:], '"')
				if k < 0 {
					break
				}
				j += k + 1
				if j < len(b) && b[j] == '"' {
					escaped = true
					j++
					continue
				}
				closed = true
				break
			}
			if !closed {
				// Unterminated quote: the rest of the payload is scanned
				// as text.
				a.fieldText(&out, b[i:])
				return out
			}
			content = b[i+1 : j-1]
			if escaped {
				content = bytes.ReplaceAll(content, []byte(`""`), []byte(`"`))
			}
		} else {
			for j < len(b) && b[j] != ',' && b[j] != '\n' && b[j] != '\r' {
				j++
			}
			content = b[i:j]
		}
		raw := b[i:j]

		if header && row == 0 {
			for _, c := range r.cols {
				if c.index < 0 && string(content) == c.name {
					named = append(named, colRule{index: col, action: c.action, rule: c.rule})
				}
			}
		}
		var rule *colRule
		for k := range r.cols {
			if c := &r.cols[k]; c.index >= 0 && c.index == col {
				rule = c
				break
			}
		}
		if rule == nil && row > 0 {
			for k := range named {
				if named[k].index == col {
					rule = &named[k]
					break
				}
			}
		}
		switch {
		case rule != nil && len(content) > 0:
			a.fired[rule.rule] = true
			a.changed = true
			a.tmp = r.replace(a.tmp[:0], rule.action, fieldLabel, content)
			out = appendCSVField(out, a.tmp, quoted)
		default:
			if nv, ok := a.scanTmp(content); ok {
				out = appendCSVField(out, nv, quoted)
			} else {
				out = append(out, raw...)
			}
		}

		// Text after a closing quote ("ab"cd) belongs to the field: it is
		// scanned as text up to the delimiter.
		if k := j; k < len(b) && b[k] != ',' && b[k] != '\n' && b[k] != '\r' {
			for k < len(b) && b[k] != ',' && b[k] != '\n' && b[k] != '\r' {
				k++
			}
			a.fieldText(&out, b[j:k])
			j = k
		}

		// Delimiter. A payload that ends with one has an empty last
		// field or row, which needs nothing.
		if j >= len(b) {
			return out
		}
		switch b[j] {
		case ',':
			out = append(out, ',')
			col++
			i = j + 1
		case '\r':
			out = append(out, '\r')
			i = j + 1
			if i < len(b) && b[i] == '\n' {
				out = append(out, '\n')
				i++
			}
			row, col = row+1, 0
		default: // '\n'
			out = append(out, '\n')
			i = j + 1
			row, col = row+1, 0
		}
		if i >= len(b) {
			return out
		}
	}
}

// fieldText appends raw CSV text that is not a well-formed field, scanned
// by the detectors.
func (a *applier) fieldText(out *[]byte, raw []byte) {
	*out, _ = a.scan(*out, raw)
}

// appendCSVField appends v as a CSV field, quoted when it was quoted or
// when it holds a comma, quote or line break.
func appendCSVField(dst, v []byte, quoted bool) []byte {
	if !quoted && !bytes.ContainsAny(v, "\",\r\n") {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for _, c := range v {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

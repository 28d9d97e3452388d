package redact

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
)

// Match is one value a detector found: b[Start:End] of the scanned bytes.
type Match struct {
	Detector   string
	Start, End int
	det        int // index in detectorNames
}

// Find runs the named detectors (every detector when none is named) over
// b and returns their matches in order, without overlaps: where two
// matches overlap the longer one is kept. Unknown names are ignored.
func Find(b []byte, detectors ...string) []Match {
	var set uint8
	for i, n := range detectorNames {
		if len(detectors) == 0 || slices.Contains(detectors, n) {
			set |= 1 << i
		}
	}
	return findAll(b, set, nil)
}

// features are cheap facts about a byte string that let a detector that
// cannot match be skipped without scanning.
type features struct {
	n       int // length
	digits  int
	letters int
	at      int
	colons  int
	dots    int
	plus    int
	seps    int // '-' and ' '
	opens   int // '['
}

// Lanes of classTab: each byte adds 1 to the 8-bit lane of its class.
const (
	laneDigit = 8 * iota
	laneLetter
	laneAt
	laneColon
	laneDot
	lanePlus
	laneSep
	laneOpen
)

// classTab maps a byte to a 1 in the lane of its class (0 for bytes of no
// class), so that summing the entries of up to 255 bytes counts every
// class at once.
var classTab = func() (t [256]uint64) {
	for c := range 256 {
		b := byte(c)
		switch {
		case isDigit(b):
			t[c] = 1 << laneDigit
		case isAlpha(b):
			t[c] = 1 << laneLetter
		case b == '@':
			t[c] = 1 << laneAt
		case b == ':':
			t[c] = 1 << laneColon
		case b == '.':
			t[c] = 1 << laneDot
		case b == '+':
			t[c] = 1 << lanePlus
		case b == '-' || b == ' ':
			t[c] = 1 << laneSep
		case b == '[':
			t[c] = 1 << laneOpen
		}
	}
	return t
}()

// featuresOf returns the features of b outside the tokens this package
// wrote: a match overlapping a token is dropped anyway (dropInsideTokens),
// so the features of the text around the tokens are enough to rule a
// detector out. (Counting the text on both sides of a token together only
// lets more detectors through.)
func featuresOf(b []byte) features {
	var f features
	f.add(b)
	if f.opens == 0 {
		return f
	}
	f = features{}
	for next := 0; next < len(b); {
		t0, t1 := nextToken(b, next)
		if t0 < 0 {
			f.add(b[next:])
			break
		}
		f.add(b[next:t0])
		next = t1
	}
	return f
}

// add adds the features of b to f.
func (f *features) add(b []byte) {
	f.n += len(b)
	for len(b) > 0 {
		chunk := b
		if len(chunk) > 255 {
			chunk = chunk[:255]
		}
		b = b[len(chunk):]
		// Four sums break the dependency chain; together they count at
		// most 255 bytes, so no lane overflows.
		var acc, acc1, acc2, acc3 uint64
		for len(chunk) >= 4 {
			acc += classTab[chunk[0]]
			acc1 += classTab[chunk[1]]
			acc2 += classTab[chunk[2]]
			acc3 += classTab[chunk[3]]
			chunk = chunk[4:]
		}
		for _, c := range chunk {
			acc += classTab[c]
		}
		acc += acc1 + acc2 + acc3
		f.digits += int(acc >> laneDigit & 0xff)
		f.letters += int(acc >> laneLetter & 0xff)
		f.at += int(acc >> laneAt & 0xff)
		f.colons += int(acc >> laneColon & 0xff)
		f.dots += int(acc >> laneDot & 0xff)
		f.plus += int(acc >> lanePlus & 0xff)
		f.seps += int(acc >> laneSep & 0xff)
		f.opens += int(acc >> laneOpen & 0xff)
	}
}

// may returns the set of detectors (bit = index in detectorNames) that can
// match a string with features f: each condition is one every match of the
// detector meets.
func (f *features) may() uint8 {
	var m uint8
	if f.at > 0 && f.dots > 0 && f.letters >= 2 && f.n >= 6 { // email: local@label.tld
		m |= 1 << 0
	}
	if f.digits >= 10 || (f.plus > 0 && f.digits >= 8) { // phone: "+" and 8 digits, or NANP's 10
		m |= 1 << 1
	}
	if f.digits >= 13 { // payment card
		m |= 1 << 2
	}
	if f.digits >= 9 && f.seps >= 2 { // SSN: AAA-GG-SSSS or with spaces
		m |= 1 << 3
	}
	if f.n >= 15 && f.digits >= 2 && f.letters >= 2 { // IBAN: 15 characters, country and check digits
		m |= 1 << 4
	}
	if f.digits >= 4 && f.dots >= 3 { // IPv4: 4 numbers and 3 dots
		m |= 1 << 5
	}
	if f.colons >= 2 { // IPv6
		m |= 1 << 6
	}
	return m
}

// finders, by index in detectorNames.
var finders = [len(detectorNames)]func(b []byte, dst []Match) []Match{
	findEmail, findPhone, findCard, findSSN, findIBAN, findIPv4, findIPv6,
}

// findAll appends the matches of the detectors in set to dst, sorted and
// without overlaps, leaving out anything inside a token this package wrote
// (so that redacting twice changes nothing more).
func findAll(b []byte, set uint8, dst []Match) []Match {
	start := len(dst)
	if len(b) < 4 { // "1::2", the shortest match of any detector
		return dst
	}
	if len(b) <= 255 {
		// Fast path for the short strings of JSON values and CSV fields:
		// one pass summing the class lanes, no tokens in b.
		var acc uint64
		for _, c := range b {
			acc += classTab[c]
		}
		if acc>>laneOpen&0xff == 0 {
			f := features{
				n:       len(b),
				digits:  int(acc >> laneDigit & 0xff),
				letters: int(acc >> laneLetter & 0xff),
				at:      int(acc >> laneAt & 0xff),
				colons:  int(acc >> laneColon & 0xff),
				dots:    int(acc >> laneDot & 0xff),
				plus:    int(acc >> lanePlus & 0xff),
				seps:    int(acc >> laneSep & 0xff),
			}
			set &= f.may()
		} else {
			f := featuresOf(b)
			set &= f.may()
		}
	} else {
		f := featuresOf(b)
		set &= f.may()
	}
	if set == 0 {
		return dst
	}
	for d := range finders {
		if set&(1<<d) != 0 {
			n := len(dst)
			dst = finders[d](b, dst)
			for i := n; i < len(dst); i++ {
				dst[i].det = d
				dst[i].Detector = detectorNames[d]
			}
		}
	}
	ms := dst[start:]
	if len(ms) == 0 {
		return dst
	}
	slices.SortFunc(ms, func(x, y Match) int {
		if x.Start != y.Start {
			return x.Start - y.Start
		}
		return (y.End - y.Start) - (x.End - x.Start)
	})
	if bytes.IndexByte(b, '[') >= 0 {
		ms = dropInsideTokens(b, ms)
	}
	ms = resolveOverlaps(ms)
	return dst[:start+len(ms)]
}

// resolveOverlaps keeps, of overlapping matches (sorted by start, longer
// first), the longest; on a tie the earlier one.
func resolveOverlaps(ms []Match) []Match {
	out := ms[:0]
	for _, m := range ms {
		n := len(out)
		if n == 0 || m.Start >= out[n-1].End {
			out = append(out, m)
			continue
		}
		if m.End-m.Start <= out[n-1].End-out[n-1].Start {
			continue
		}
		out[n-1] = m
		// The longer match may now overlap earlier kept ones.
		for n = len(out); n >= 2 && out[n-1].Start < out[n-2].End; n = len(out) {
			if out[n-1].End-out[n-1].Start > out[n-2].End-out[n-2].Start {
				out[n-2] = out[n-1]
			}
			out = out[:n-1]
		}
	}
	return out
}

// dropInsideTokens removes matches (sorted by start) that overlap a
// "[REDACTED:label]" or "[HMAC:label:hex]" token already in b.
func dropInsideTokens(b []byte, ms []Match) []Match {
	out := ms[:0]
	t0, t1 := -1, -1 // the current token, b[t0:t1]
	next := 0        // where to look for the next token
	for _, m := range ms {
		// Advance to the first token that ends after m starts.
		for t1 <= m.Start && next < len(b) {
			t0, t1 = nextToken(b, next)
			if t0 < 0 {
				t0, t1, next = len(b), len(b), len(b)
				break
			}
			next = t1
		}
		if t0 >= 0 && m.Start < t1 && t0 < m.End {
			continue
		}
		out = append(out, m)
	}
	return out
}

// nextToken finds the first token at or after b[from:], or returns -1.
func nextToken(b []byte, from int) (int, int) {
	for i := from; i < len(b); {
		k := bytes.IndexByte(b[i:], '[')
		if k < 0 {
			return -1, -1
		}
		s := i + k
		if e := tokenEnd(b, s); e > 0 {
			return s, e
		}
		i = s + 1
	}
	return -1, -1
}

// tokenEnd returns the end of the token starting at b[s], or 0.
func tokenEnd(b []byte, s int) int {
	rest := b[s:]
	var hexPart bool
	switch {
	case bytes.HasPrefix(rest, []byte("[REDACTED:")):
		rest = rest[len("[REDACTED:"):]
	case bytes.HasPrefix(rest, []byte("[HMAC:")):
		rest, hexPart = rest[len("[HMAC:"):], true
	default:
		return 0
	}
	n := 0
	for n < len(rest) && (rest[n] >= 'a' && rest[n] <= 'z' || rest[n] == '_' || rest[n] == '4' || rest[n] == '6') {
		n++
	}
	if n == 0 || n > 16 {
		return 0
	}
	rest = rest[n:]
	used := len(b[s:]) - len(rest)
	if hexPart {
		if len(rest) < tokenHexLen+1 || rest[0] != ':' {
			return 0
		}
		for _, c := range rest[1 : tokenHexLen+1] {
			if !isDigit(c) && (c < 'a' || c > 'f') {
				return 0
			}
		}
		rest = rest[tokenHexLen+1:]
		used += tokenHexLen + 1
	}
	if len(rest) == 0 || rest[0] != ']' {
		return 0
	}
	return s + used + 1
}

// ---- byte classes ----

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

// isWord reports whether c continues a word: a letter, digit or '_'. A
// detected value must not be glued to one on either side.
func isWord(c byte) bool { return isAlnum(c) || c == '_' }

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// wordBefore reports whether b[i-1] continues a word.
func wordBefore(b []byte, i int) bool { return i > 0 && isWord(b[i-1]) }

// wordAfter reports whether b[i] continues a word.
func wordAfter(b []byte, i int) bool { return i < len(b) && isWord(b[i]) }

// numberBefore reports whether b[:i] ends with a digit and one of seps, as
// in "12." before a fraction or "12-" before the rest of a longer number.
func numberBefore(b []byte, i int, seps string) bool {
	return i >= 2 && strings.IndexByte(seps, b[i-1]) >= 0 && isDigit(b[i-2])
}

// numberAfter reports whether b[i:] starts with one of seps and a digit.
func numberAfter(b []byte, i int, seps string) bool {
	return i+1 < len(b) && strings.IndexByte(seps, b[i]) >= 0 && isDigit(b[i+1])
}

// ---- email ----

// isLocal reports whether c may appear in the local part of an address as
// the detector reads it: letters, digits and . _ % + -.
func isLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainChar(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

// findEmail matches local@domain.tld: a local part of letters, digits and
// . _ % + - (not starting or ending with a dot), and a domain of at least
// two dot-separated labels of letters, digits and hyphens, the last one
// (the top-level domain) at least two letters.
func findEmail(b []byte, dst []Match) []Match {
	lo := 0 // matches never reach back before the previous one
	for i := 0; i < len(b); {
		k := bytes.IndexByte(b[i:], '@')
		if k < 0 {
			break
		}
		at := i + k
		i = at + 1
		s := at
		for s > lo && isLocal(b[s-1]) {
			s--
		}
		for s < at && b[s] == '.' {
			s++
		}
		if s == at || b[at-1] == '.' {
			continue
		}
		e := at + 1
		for e < len(b) && isDomainChar(b[e]) {
			e++
		}
		for e > at+1 && (b[e-1] == '.' || b[e-1] == '-') {
			e--
		}
		if !validDomain(b[at+1 : e]) {
			continue
		}
		dst = append(dst, Match{Start: s, End: e})
		lo, i = e, e
	}
	return dst
}

func validDomain(d []byte) bool {
	labels := 0
	for len(d) > 0 {
		j := bytes.IndexByte(d, '.')
		var label []byte
		if j < 0 {
			label, d = d, nil
		} else {
			label, d = d[:j], d[j+1:]
			if len(d) == 0 {
				return false
			}
		}
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		labels++
		if d == nil { // top-level domain
			if len(label) < 2 {
				return false
			}
			for _, c := range label {
				if !isAlpha(c) {
					return false
				}
			}
		}
	}
	return labels >= 2
}

// ---- payment cards ----

type group struct{ start, end, digits int }

// findCard matches 13 to 19 digits, optionally in groups separated by one
// space or hyphen, that pass the Luhn check and start with 2–6 (the major
// networks' ranges: Mastercard 2 and 5, Amex, Diners and JCB 3, Visa 4,
// Discover and UnionPay 6). The number must not be glued to a letter or
// digit, nor be part of a decimal number (0.4111…, 4111….5). Groups are
// 4 to 6 digits (the last 1 to 6) with one kind of separator. In a longer
// run of groups (a card followed by an expiry year) the longest valid
// sub-run of whole groups is taken.
func findCard(b []byte, dst []Match) []Match {
	var buf [24]group
	for i := 0; i < len(b); {
		if !isDigit(b[i]) {
			i++
			continue
		}
		gs := buf[:0]
		j := i
		for {
			s := j
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			gs = append(gs, group{start: s, end: j, digits: j - s})
			if j+1 < len(b) && (b[j] == ' ' || b[j] == '-') && isDigit(b[j+1]) {
				j++
				continue
			}
			break
		}
		i = j
		leftOK := !wordBefore(b, gs[0].start) && !numberBefore(b, gs[0].start, ".,")
		rightOK := !wordAfter(b, j) && !numberAfter(b, j, ".,")
		for s := 0; s < len(gs); {
			if (s == 0 && !leftOK) || gs[s].digits > 19 {
				s++
				continue
			}
			found := -1
			n := 0
			e := s
			for ; e < len(gs) && n+gs[e].digits <= 19; e++ {
				n += gs[e].digits
			}
			// gs[s:e] is the longest run within 19 digits; shrink from the right.
			for e--; e >= s; e-- {
				if e == len(gs)-1 && !rightOK {
					n -= gs[e].digits
					continue
				}
				if n >= 13 && b[gs[s].start] >= '2' && b[gs[s].start] <= '6' && cardGroups(b, gs[s:e+1]) && luhn(b[gs[s].start:gs[e].end]) {
					found = e
					break
				}
				n -= gs[e].digits
			}
			if found < 0 {
				s++
				continue
			}
			dst = append(dst, Match{Start: gs[s].start, End: gs[found].end})
			s = found + 1
		}
	}
	return dst
}

// cardGroups reports whether gs is laid out as card numbers are printed:
// one group, or groups of 4 to 6 digits (the last 1 to 6) joined by one
// kind of separator (4-4-4-4, 4-6-5, 4-4-4-4-3).
func cardGroups(b []byte, gs []group) bool {
	if len(gs) == 1 {
		return true
	}
	sep := b[gs[0].end]
	for k, g := range gs {
		if g.digits > 6 || (k < len(gs)-1 && (g.digits < 4 || b[g.end] != sep)) {
			return false
		}
	}
	return true
}

// luhn checks the Luhn checksum of the digits in b (other bytes skipped).
func luhn(b []byte) bool {
	sum, double := 0, false
	for k := len(b) - 1; k >= 0; k-- {
		c := b[k]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ---- US SSN ----

// findSSN matches AAA-GG-SSSS (or with spaces) where the area is not 000,
// 666 or 900–999, the group not 00 and the serial not 0000, the numbers the
// SSA never assigns. Nine digits without separators are not matched (too
// many other numbers look like that); name the field with a json_path or
// csv_column rule instead.
func findSSN(b []byte, dst []Match) []Match {
	for i := 0; i+11 <= len(b); i++ {
		if !isDigit(b[i]) || (i > 0 && isDigit(b[i-1])) {
			continue
		}
		sep := b[i+3]
		if (sep != '-' && sep != ' ') || b[i+6] != sep ||
			!allDigits(b[i:i+3]) || !allDigits(b[i+4:i+6]) || !allDigits(b[i+7:i+11]) {
			continue
		}
		if wordBefore(b, i) || numberBefore(b, i, "-.") || wordAfter(b, i+11) || numberAfter(b, i+11, "-.") {
			continue
		}
		area := string(b[i : i+3])
		if area == "000" || area == "666" || area[0] == '9' || string(b[i+4:i+6]) == "00" || string(b[i+7:i+11]) == "0000" {
			continue
		}
		dst = append(dst, Match{Start: i, End: i + 11})
		i += 10
	}
	return dst
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// ---- phone numbers ----

// findPhone matches two families:
//
//   - international: "+", a country code not starting with 0, then digits
//     in groups separated by one space, hyphen or dot, or with the area in
//     parentheses: 8 to 15 digits in all (E.164's maximum), such as
//     +44 20 7946 0958, +1 (415) 555-2671, +33 1 23 45 67 89, +14155552671;
//   - North American (NANP): an optional leading "1" and separator, a
//     three-digit area code (in parentheses or followed by a separator),
//     a three-digit exchange and four digits, the area and exchange starting
//     with 2–9: (415) 555-2671, 415-555-2671, 415.555.2671, 415 555 2671,
//     1-415-555-2671. Without parentheses both separators must be the same.
//
// Ten digits without separators, seven-digit local numbers and national
// formats of other countries (020 7946 0958) are not matched: too many
// other numbers look like them.
func findPhone(b []byte, dst []Match) []Match {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '+' && c != '(' && !isDigit(c) {
			continue
		}
		if wordBefore(b, i) || (i > 0 && (b[i-1] == '+' || b[i-1] == '(')) || numberBefore(b, i, "-.") {
			continue
		}
		var e int
		if c == '+' {
			e = intlPhone(b, i)
		} else {
			e = nanpPhone(b, i)
		}
		if e > 0 {
			dst = append(dst, Match{Start: i, End: e})
			i = e - 1
		}
	}
	return dst
}

func intlPhone(b []byte, i int) int {
	j := i + 1
	if j >= len(b) || b[j] < '1' || b[j] > '9' {
		return 0
	}
	// Ends of the digit groups read so far, with the digit count and
	// whether a parenthesis is open there.
	type stop struct {
		end, digits int
		open        bool
	}
	var buf [16]stop
	stops := buf[:0]
	digits := 0
	open := false
scan:
	for j < len(b) {
		if isDigit(b[j]) {
			k := j
			for k < len(b) && isDigit(b[k]) {
				k++
			}
			if digits+k-j > 15 {
				break // more digits than a phone number holds
			}
			digits += k - j
			j = k
			stops = append(stops, stop{end: j, digits: digits, open: open})
			continue
		}
		// Between groups: one of " - . ( )", or two when one is a
		// parenthesis (" (", ") ", ")-").
		k := j
		for k < len(b) && k-j < 2 && strings.IndexByte(" -.()", b[k]) >= 0 {
			k++
		}
		if k == j || k >= len(b) || !isDigit(b[k]) {
			break
		}
		if k-j == 2 && b[j] != '(' && b[j] != ')' && b[j+1] != '(' && b[j+1] != ')' {
			break
		}
		for _, s := range b[j:k] {
			switch {
			case s == '(' && !open:
				open = true
			case s == ')' && open:
				open = false
			case s == '(' || s == ')':
				break scan
			}
		}
		j = k
	}
	// The longest run of whole groups that is a phone number.
	for k := len(stops) - 1; k >= 0; k-- {
		st := stops[k]
		if st.digits < 8 {
			break
		}
		if !st.open && !wordAfter(b, st.end) && !numberAfter(b, st.end, ".") {
			return st.end
		}
	}
	return 0
}

func nanpPhone(b []byte, i int) int {
	j := i
	if b[j] == '1' && j+1 < len(b) && (b[j+1] == '-' || b[j+1] == ' ' || b[j+1] == '.') {
		j += 2
	}
	paren := false
	var sep1 byte
	if j < len(b) && b[j] == '(' {
		if j+5 > len(b) || b[j+4] != ')' || !allDigits(b[j+1:j+4]) {
			return 0
		}
		if b[j+1] < '2' {
			return 0
		}
		paren = true
		j += 5
		if j < len(b) && (b[j] == ' ' || b[j] == '-') {
			j++
		}
	} else {
		if j+4 > len(b) || !allDigits(b[j:j+3]) || b[j] < '2' {
			return 0
		}
		sep1 = b[j+3]
		if sep1 != '-' && sep1 != '.' && sep1 != ' ' {
			return 0
		}
		j += 4
	}
	if j+8 > len(b) || !allDigits(b[j:j+3]) || b[j] < '2' || !allDigits(b[j+4:j+8]) {
		return 0
	}
	sep2 := b[j+3]
	if sep2 != '-' && sep2 != '.' && sep2 != ' ' || (!paren && sep2 != sep1) {
		return 0
	}
	j += 8
	if wordAfter(b, j) || numberAfter(b, j, "-.") {
		return 0
	}
	return j
}

// ---- IBAN ----

// ibanLengths is the IBAN length of each country in the SWIFT registry
// that Glassbox knows; others are accepted at any length from 15 to 34.
var ibanLengths = map[[2]byte]int{
	{'A', 'D'}: 24, {'A', 'E'}: 23, {'A', 'L'}: 28, {'A', 'T'}: 20, {'A', 'Z'}: 28,
	{'B', 'A'}: 20, {'B', 'E'}: 16, {'B', 'G'}: 22, {'B', 'H'}: 22, {'B', 'R'}: 29,
	{'B', 'Y'}: 28, {'C', 'H'}: 21, {'C', 'R'}: 22, {'C', 'Y'}: 28, {'C', 'Z'}: 24,
	{'D', 'E'}: 22, {'D', 'K'}: 18, {'D', 'O'}: 28, {'E', 'E'}: 20, {'E', 'G'}: 29,
	{'E', 'S'}: 24, {'F', 'I'}: 18, {'F', 'O'}: 18, {'F', 'R'}: 27, {'G', 'B'}: 22,
	{'G', 'E'}: 22, {'G', 'I'}: 23, {'G', 'L'}: 18, {'G', 'R'}: 27, {'G', 'T'}: 28,
	{'H', 'R'}: 21, {'H', 'U'}: 28, {'I', 'E'}: 22, {'I', 'L'}: 23, {'I', 'Q'}: 23,
	{'I', 'S'}: 26, {'I', 'T'}: 27, {'J', 'O'}: 30, {'K', 'W'}: 30, {'K', 'Z'}: 20,
	{'L', 'B'}: 28, {'L', 'C'}: 32, {'L', 'I'}: 21, {'L', 'T'}: 20, {'L', 'U'}: 20,
	{'L', 'V'}: 21, {'M', 'C'}: 27, {'M', 'D'}: 24, {'M', 'E'}: 22, {'M', 'K'}: 19,
	{'M', 'R'}: 27, {'M', 'T'}: 31, {'M', 'U'}: 30, {'N', 'L'}: 18, {'N', 'O'}: 15,
	{'P', 'K'}: 24, {'P', 'L'}: 28, {'P', 'S'}: 29, {'P', 'T'}: 25, {'Q', 'A'}: 29,
	{'R', 'O'}: 24, {'R', 'S'}: 22, {'S', 'A'}: 24, {'S', 'C'}: 31, {'S', 'E'}: 24,
	{'S', 'I'}: 19, {'S', 'K'}: 24, {'S', 'M'}: 27, {'S', 'T'}: 25, {'S', 'V'}: 28,
	{'T', 'L'}: 23, {'T', 'N'}: 24, {'T', 'R'}: 26, {'U', 'A'}: 29, {'V', 'A'}: 22,
	{'V', 'G'}: 24, {'X', 'K'}: 20,
}

// findIBAN matches a country code (two letters), two check digits and the
// rest of the account number, written together or in groups separated by
// single spaces, of the country's length (15 to 34 characters for
// countries not in the table), whose mod-97 check is 1. Letters may be of
// either case.
func findIBAN(b []byte, dst []Match) []Match {
	var pos [34]int // index in b of each character of the candidate
	for i := 0; i+15 <= len(b); i++ {
		if !isAlpha(b[i]) || !isAlpha(b[i+1]) || !isDigit(b[i+2]) || !isDigit(b[i+3]) || wordBefore(b, i) {
			continue
		}
		n := 0
		j := i
		for j < len(b) && n < len(pos) {
			if isAlnum(b[j]) {
				pos[n] = j
				n++
				j++
				continue
			}
			if b[j] == ' ' && j+1 < len(b) && isAlnum(b[j+1]) {
				j++
				continue
			}
			break
		}
		// A candidate ends after pos[k-1] and must not be glued to more.
		ends := func(k int) bool { return !wordAfter(b, pos[k-1]+1) }
		want, known := ibanLengths[[2]byte{upper(b[i]), upper(b[i+1])}]
		found := 0
		if known {
			if n >= want && ends(want) && mod97(b, pos[:want]) {
				found = want
			}
		} else {
			for k := n; k >= 15; k-- {
				if ends(k) && mod97(b, pos[:k]) {
					found = k
					break
				}
			}
		}
		if found > 0 {
			end := pos[found-1] + 1
			dst = append(dst, Match{Start: i, End: end})
			i = end - 1
		}
	}
	return dst
}

// mod97 checks an IBAN whose characters are b[pos[0]], b[pos[1]]...: the
// first four moved to the end, letters as 10–35, the number mod 97 is 1.
func mod97(b []byte, pos []int) bool {
	r := 0
	add := func(c byte) bool {
		switch {
		case isDigit(c):
			r = (r*10 + int(c-'0')) % 97
		case isAlpha(c):
			v := int(upper(c)-'A') + 10
			r = (r*100 + v) % 97
		default:
			return false
		}
		return true
	}
	for _, p := range pos[4:] {
		if !add(b[p]) {
			return false
		}
	}
	for _, p := range pos[:4] {
		add(b[p])
	}
	return r == 1
}

// ---- IP addresses ----

// findIPv4 matches dotted quads a.b.c.d with each part 0–255 and no
// leading zeros, not glued to letters, digits or further dotted numbers
// (so 1.2.3.4.5 is not matched), and not right after the word "version"
// or "v" (version numbers look like addresses).
func findIPv4(b []byte, dst []Match) []Match {
	for i := 0; i+7 <= len(b); i++ {
		if !isDigit(b[i]) || wordBefore(b, i) || (i > 0 && b[i-1] == '.') {
			continue
		}
		j := i
		ok := true
		for part := range 4 {
			s := j
			v := 0
			for j < len(b) && isDigit(b[j]) && j-s < 4 {
				v = v*10 + int(b[j]-'0')
				j++
			}
			if n := j - s; n == 0 || n > 3 || v > 255 || (n > 1 && b[s] == '0') {
				ok = false
				break
			}
			if part < 3 {
				if j >= len(b) || b[j] != '.' {
					ok = false
					break
				}
				j++
			}
		}
		if !ok {
			continue
		}
		if wordAfter(b, j) || numberAfter(b, j, ".") || afterVersionWord(b, i) {
			i = j - 1
			continue
		}
		dst = append(dst, Match{Start: i, End: j})
		i = j - 1
	}
	return dst
}

// afterVersionWord reports whether b[:i] ends with "version", "ver" or
// "v" and at most one space, '=' or ':'.
func afterVersionWord(b []byte, i int) bool {
	j := i
	if j > 0 && (b[j-1] == ' ' || b[j-1] == '=' || b[j-1] == ':') {
		j--
	}
	for _, w := range []string{"version", "ver", "v"} {
		if j >= len(w) && bytes.EqualFold(b[j-len(w):j], []byte(w)) && !wordBefore(b, j-len(w)) {
			return true
		}
	}
	return false
}

// findIPv6 matches IPv6 addresses in any of RFC 4291's text forms that
// net/netip accepts (full, with ::, with an IPv4 tail), with at least two
// groups of hex digits (so "::" and "::1" alone are not matched), not glued
// to letters or digits. Zones (%eth0) are not included.
func findIPv6(b []byte, dst []Match) []Match {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(isHex(c) || c == ':') || wordBefore(b, i) || (i > 0 && (b[i-1] == ':' || b[i-1] == '.')) {
			continue
		}
		j := i
		colons := 0
		for j < len(b) && (isHex(b[j]) || b[j] == ':' || b[j] == '.') && j-i <= 45 {
			if b[j] == ':' {
				colons++
			}
			j++
		}
		if colons < 2 || j-i > 45 || wordAfter(b, j) {
			i = max(i, j-1)
			continue
		}
		e := j
		for e > i && (b[e-1] == ':' || b[e-1] == '.') && !(e >= i+2 && b[e-2] == ':' && b[e-1] == ':') {
			e--
		}
		ip, err := netip.ParseAddr(string(b[i:e]))
		if err != nil || !ip.Is6() || hexGroups(b[i:e]) < 2 {
			i = j - 1
			continue
		}
		dst = append(dst, Match{Start: i, End: e})
		i = e - 1
	}
	return dst
}

func hexGroups(b []byte) int {
	n, in := 0, false
	for _, c := range b {
		if isHex(c) {
			if !in {
				n++
			}
			in = true
		} else {
			in = false
		}
	}
	return n
}

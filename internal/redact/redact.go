package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Action says what happens to a value a rule matched.
type Action string

// Actions.
const (
	// Mask replaces the value with a fixed token, "[REDACTED:<label>]",
	// whatever the value's length: the length of a value can itself tell
	// something (a 15-digit card is an Amex).
	Mask Action = "mask"
	// Drop removes the value: the matched text, the CSV field's content, or
	// the JSON key with its value (null for an array element).
	Drop Action = "drop"
	// Hash replaces the value with "[HMAC:<label>:<16 hex digits>]", the
	// first 64 bits of HMAC-SHA256 under the Redactor's key of the value in
	// a normal form, so one value always gives one token and joins still
	// work, while the token cannot be reversed without the key.
	Hash Action = "hash"
)

// Detector names.
const (
	Email       = "email"
	Phone       = "phone"
	PaymentCard = "payment_card"
	USSSN       = "us_ssn"
	IBAN        = "iban"
	IPv4        = "ipv4"
	IPv6        = "ipv6"
)

// detectorNames lists the detectors in the order they are documented; the
// bit of a detector in a set is its index here.
var detectorNames = [...]string{Email, Phone, PaymentCard, USSSN, IBAN, IPv4, IPv6}

// Detectors returns the names of the built-in detectors.
func Detectors() []string { return slices.Clone(detectorNames[:]) }

// fieldLabel labels the tokens of JSON path and CSV column rules, which
// take a whole value whatever it holds.
const fieldLabel = "field"

// Format is how Apply reads a payload.
type Format int

// Formats.
const (
	// Text scans the payload as a whole with the detectors; JSON path and
	// CSV column rules do not apply. Binary payloads are scanned as text.
	Text Format = iota
	// CSV reads RFC 4180 records: comma-separated fields, optionally
	// double-quoted, with "" for a quote inside quotes.
	CSV
	// JSON reads one JSON value, or several separated by white space (JSON
	// Lines). Payloads that are not valid JSON are scanned as Text.
	JSON
)

// Rule is one redaction rule: exactly one of Detector, JSONPath and
// CSVColumn, and an Action.
type Rule struct {
	// Detector names a built-in detector (see Detectors).
	Detector string
	// JSONPath selects a value in JSON payloads: "$" followed by .name,
	// ['name'], [index], [*] or .* steps, such as $.applicant.ssn or
	// $.instances[*].email.
	JSONPath string
	// CSVColumn selects a field in every row of CSV payloads: a 0-based
	// column index ("3") or a column name, looked up in the payload's first
	// row when that row holds the name.
	CSVColumn string
	// Action is Mask, Drop or Hash.
	Action Action
}

// ID identifies the rule in a record's list of rules that fired:
// "email:hash", "json_path:$.applicant.ssn:drop", "csv_column:3:mask". It
// never holds a value from a payload.
func (r Rule) ID() string {
	switch {
	case r.Detector != "":
		return r.Detector + ":" + string(r.Action)
	case r.JSONPath != "":
		return "json_path:" + r.JSONPath + ":" + string(r.Action)
	default:
		return "csv_column:" + r.CSVColumn + ":" + string(r.Action)
	}
}

// ErrNoKey is returned by New for a hash rule without an HMAC key.
var ErrNoKey = errors.New("hash action needs an HMAC key")

// Redactor applies a fixed set of rules. It is safe for concurrent use.
type Redactor struct {
	key     []byte
	hashers sync.Pool // of *hasher (HMAC-SHA256 under key)

	ids []string // rule ids, by rule index

	// detectors
	dets   uint8                      // set of enabled detectors (bit = index in detectorNames)
	detAct [len(detectorNames)]Action // action per enabled detector
	detIdx [len(detectorNames)]int    // rule index per enabled detector

	paths []pathRule
	cols  []colRule
	named bool // some column rule names its column
}

type pathRule struct {
	steps  []step
	action Action
	rule   int
}

type colRule struct {
	index  int    // -1 when by name
	name   string // when by name
	action Action
	rule   int
}

// CheckRule reports what is wrong with a rule, if anything, without
// building a Redactor; the key is not needed.
func CheckRule(r Rule) error {
	_, err := New([]Rule{r}, []byte("check"))
	return err
}

// New builds a Redactor. hmacKey keys the Hash action; it is copied, and it
// may be nil when no rule hashes. A detector may appear in one rule only.
func New(rules []Rule, hmacKey []byte) (*Redactor, error) {
	r := &Redactor{key: slices.Clone(hmacKey)}
	for i, rule := range rules {
		n := 0
		for _, s := range []string{rule.Detector, rule.JSONPath, rule.CSVColumn} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			return nil, fmt.Errorf("rule %d: want exactly one of detector, json_path and csv_column, got %d", i, n)
		}
		switch rule.Action {
		case Mask, Drop:
		case Hash:
			if len(hmacKey) == 0 {
				return nil, fmt.Errorf("rule %d (%s): %w", i, rule.ID(), ErrNoKey)
			}
		case "":
			return nil, fmt.Errorf("rule %d: no action: want mask, drop or hash", i)
		default:
			return nil, fmt.Errorf("rule %d: unknown action %q: want mask, drop or hash", i, rule.Action)
		}
		switch {
		case rule.Detector != "":
			d := slices.Index(detectorNames[:], rule.Detector)
			if d < 0 {
				return nil, fmt.Errorf("rule %d: unknown detector %q: want one of %s", i, rule.Detector, strings.Join(detectorNames[:], ", "))
			}
			if r.dets&(1<<d) != 0 {
				return nil, fmt.Errorf("rule %d: detector %s appears in rule %d already", i, rule.Detector, r.detIdx[d])
			}
			r.dets |= 1 << d
			r.detAct[d] = rule.Action
			r.detIdx[d] = i
		case rule.JSONPath != "":
			steps, err := parsePath(rule.JSONPath)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", i, err)
			}
			r.paths = append(r.paths, pathRule{steps: steps, action: rule.Action, rule: i})
		default:
			c := colRule{index: -1, action: rule.Action, rule: i}
			if isDigits(rule.CSVColumn) {
				n, err := strconv.Atoi(rule.CSVColumn)
				if err != nil || n > 1<<20 {
					return nil, fmt.Errorf("rule %d: csv column %s is out of range", i, rule.CSVColumn)
				}
				c.index = n
			} else {
				if strings.ContainsAny(rule.CSVColumn, "\",\r\n") {
					return nil, fmt.Errorf("rule %d: csv column name %q holds a quote, comma or line break", i, rule.CSVColumn)
				}
				c.name = rule.CSVColumn
				r.named = true
			}
			r.cols = append(r.cols, c)
		}
		r.ids = append(r.ids, rule.ID())
	}
	key := r.key
	r.hashers.New = func() any { return &hasher{h: hmac.New(sha256.New, key)} }
	return r, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// Apply redacts one payload read as format. It returns the redacted payload
// and the ids of the rules that fired (Rule.ID, in rule order; nil when none
// did). When nothing fired, out is payload itself. Apply never returns a
// value from the payload in fired and never panics: an internal failure is
// returned as an error, and the caller must then not store the payload.
func (r *Redactor) Apply(payload []byte, format Format) (out []byte, fired []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, fired, err = nil, nil, fmt.Errorf("redact: internal error: %v", p)
		}
	}()
	a := getApplier(r)
	defer putApplier(a)
	switch format {
	case CSV:
		out = a.csv(payload)
	case JSON:
		var ok bool
		if out, ok = a.json(payload); !ok {
			a.reset(r)
			out = a.text(payload)
		}
	default:
		out = a.text(payload)
	}
	if !a.changed {
		out = payload
	}
	n := 0
	for _, f := range a.fired {
		if f {
			n++
		}
	}
	if n > 0 {
		fired = make([]string, 0, n)
		for i, f := range a.fired {
			if f {
				fired = append(fired, r.ids[i])
			}
		}
	}
	return out, fired, nil
}

// applier holds the state of one Apply call. Appliers are pooled: their
// scratch buffers live on from one call to the next.
type applier struct {
	r       *Redactor
	fired   []bool
	changed bool
	ms      []Match // scratch: matches
	tmp     []byte  // scratch: result of scanTmp
	tmp2    []byte  // scratch: rescans
	norm    []byte  // scratch: normalized values
	str     []byte  // scratch: decoded JSON strings
	path    []pathElem
}

var appliers = sync.Pool{New: func() any { return new(applier) }}

// maxScratch is the largest scratch buffer kept in a pooled applier.
const maxScratch = 64 << 10

func getApplier(r *Redactor) *applier {
	a := appliers.Get().(*applier)
	a.reset(r)
	return a
}

func (a *applier) reset(r *Redactor) {
	a.r = r
	a.changed = false
	if cap(a.fired) < len(r.ids) {
		a.fired = make([]bool, len(r.ids))
	} else {
		a.fired = a.fired[:len(r.ids)]
		clear(a.fired)
	}
}

func putApplier(a *applier) {
	if cap(a.tmp) > maxScratch || cap(a.tmp2) > maxScratch || cap(a.norm) > maxScratch ||
		cap(a.str) > maxScratch || cap(a.ms) > maxScratch/32 || cap(a.path) > 1024 {
		return
	}
	a.r = nil
	// Do not keep clear values around: normalized values and decoded
	// strings are payload text.
	clear(a.norm[:cap(a.norm)])
	clear(a.str[:cap(a.str)])
	clear(a.path[:cap(a.path)]) // drop references into the payload
	a.path = a.path[:0]
	appliers.Put(a)
}

// text redacts b as free text with the detectors and returns the result,
// which is b itself when nothing matched.
func (a *applier) text(b []byte) []byte {
	out, _ := a.scan(nil, b)
	return out
}

// maxRounds bounds the rescans of scan. Each round replaces clear text by
// tokens (or removes it), so the rounds end on their own; the bound only
// caps the work on adversarial input.
const maxRounds = 16

// scan appends b, with every detector match replaced, to dst, and reports
// whether anything matched. When nothing did and dst is nil it returns b
// itself. A replacement can change what its neighbours look like (a phone
// number glued to an address is one once the address is a token), so the
// result is scanned again until nothing more matches: redacting twice
// gives what redacting once gave.
func (a *applier) scan(dst, b []byte) ([]byte, bool) {
	if !a.find(b) {
		if dst == nil {
			return b, false
		}
		return append(dst, b...), false
	}
	start := len(dst)
	if dst == nil {
		dst = make([]byte, 0, len(b)+16*len(a.ms))
	}
	return a.settle(a.replaceAll(dst, b), start), true
}

// scanTmp is scan(nil, b) with a result that, when something matched, is
// only valid until the next scanTmp call.
func (a *applier) scanTmp(b []byte) ([]byte, bool) {
	if !a.find(b) {
		return b, false
	}
	a.tmp = a.settle(a.replaceAll(a.tmp[:0], b), 0)
	return a.tmp, true
}

// settle rescans res[start:], which had matches replaced, until nothing
// more matches (at most maxRounds times).
func (a *applier) settle(res []byte, start int) []byte {
	for range maxRounds {
		if !a.find(res[start:]) {
			break
		}
		a.tmp2 = a.replaceAll(a.tmp2[:0], res[start:])
		res = append(res[:start], a.tmp2...)
	}
	return res
}

// find runs the detectors over b into a.ms and reports whether any
// matched.
func (a *applier) find(b []byte) bool {
	if a.r.dets == 0 || len(b) == 0 {
		return false
	}
	a.ms = findAll(b, a.r.dets, a.ms[:0])
	return len(a.ms) > 0
}

// replaceAll appends b with the matches in a.ms replaced to dst.
func (a *applier) replaceAll(dst, b []byte) []byte {
	r := a.r
	last := 0
	for _, m := range a.ms {
		d := m.det
		dst = append(dst, b[last:m.Start]...)
		var v []byte
		if r.detAct[d] == Hash {
			a.norm = normalize(a.norm[:0], d, b[m.Start:m.End])
			v = a.norm
		}
		dst = r.replace(dst, r.detAct[d], detectorNames[d], v)
		a.fired[r.detIdx[d]] = true
		last = m.End
	}
	a.changed = true
	return append(dst, b[last:]...)
}

// replace appends the replacement of value under action to dst.
func (r *Redactor) replace(dst []byte, action Action, label string, value []byte) []byte {
	switch action {
	case Mask:
		dst = append(dst, "[REDACTED:"...)
		dst = append(dst, label...)
		return append(dst, ']')
	case Hash:
		dst = append(dst, "[HMAC:"...)
		dst = append(dst, label...)
		dst = append(dst, ':')
		dst = r.appendMAC(dst, value)
		return append(dst, ']')
	}
	return dst // Drop
}

// tokenHexLen is how many hex digits of the HMAC a hash token keeps.
const tokenHexLen = 16

func (r *Redactor) appendMAC(dst, value []byte) []byte {
	h := r.hashers.Get().(*hasher)
	h.h.Reset()
	h.h.Write(value)
	s := h.h.Sum(h.sum[:0])
	dst = hex.AppendEncode(dst, s[:tokenHexLen/2])
	r.hashers.Put(h)
	return dst
}

// hasher is a pooled HMAC with room for its sum.
type hasher struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// normalize appends to dst the form of a detected value that Hash keys on,
// so that one value written two ways gives one token: e-mail lower-cased;
// digits only for cards, SSNs and phones (with a leading + kept); IBANs
// upper-cased without spaces; IP addresses in net/netip's canonical form.
func normalize(dst []byte, d int, v []byte) []byte {
	switch detectorNames[d] {
	case Email:
		// Addresses as the detector reads them are ASCII.
		for _, c := range v {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst
	case PaymentCard, USSSN, Phone:
		for i, c := range v {
			if isDigit(c) || (c == '+' && i == 0) {
				dst = append(dst, c)
			}
		}
		return dst
	case IBAN:
		for _, c := range v {
			if isAlnum(c) {
				dst = append(dst, upper(c))
			}
		}
		return dst
	case IPv4, IPv6:
		if ip, err := netip.ParseAddr(string(v)); err == nil {
			return ip.AppendTo(dst)
		}
	}
	return append(dst, v...)
}

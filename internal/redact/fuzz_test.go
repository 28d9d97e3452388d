package redact_test

import (
	"bytes"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/redact"
)

// FuzzRedact checks, for any payload and format, that Apply never panics
// or fails; that a planted value set apart by spaces never survives; and
// that masking is idempotent (a second pass changes nothing).
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		`{"applicant": {"ssn": "123-45-6789", "email": "x@y.org"}}`,
		"1,x@y.org,4111 1111 1111 1111,secret\n2,\"a,b\",c,d\r\n",
		"call +1 (415) 555-2671 from 2001:db8::1 or 10.0.0.1",
		`["a\u0040b.com", 4111111111111111, {"k": [1, 2, {"x": null}]}]`,
		"\"unterminated, x@y.org", "{\"a\":", "[[[[[[", "",
		"DE89 3704 0044 0532 0130 00", "[REDACTED:email] [HMAC:email:0123456789abcdef]",
	} {
		for fm := range 3 {
			f.Add([]byte(s), uint8(fm), uint16(len(s)/2), uint8(0))
		}
	}
	mask := mustNew(f, append(allDetectors(redact.Mask),
		redact.Rule{JSONPath: "$.applicant.ssn", Action: redact.Mask},
		redact.Rule{CSVColumn: "3", Action: redact.Mask}), "")
	hash := mustNew(f, append(allDetectors(redact.Hash),
		redact.Rule{JSONPath: "$.applicant.ssn", Action: redact.Drop},
		redact.Rule{CSVColumn: "name", Action: redact.Drop}), "fuzz-key")
	f.Fuzz(func(t *testing.T, data []byte, format uint8, at uint16, which uint8) {
		fm := redact.Format(format % 3)
		for _, r := range []*redact.Redactor{mask, hash} {
			if _, _, err := r.Apply(data, fm); err != nil {
				t.Fatalf("Apply(%q, %d): %v", data, fm, err)
			}
		}
		// Plant a value at a position of the input, on a line of its own:
		// detectors need a value set apart from its neighbours, and the
		// IPv4 detector skips values after the word "version" or "v" on
		// the same line.
		p := planted[int(which)%len(planted)]
		if bytes.Contains(data, []byte(p)) {
			return
		}
		pos := int(at) % (len(data) + 1)
		in := append(append(append(append([]byte{}, data[:pos]...), '\n'), p...), '\n')
		in = append(in, data[pos:]...)
		for _, r := range []*redact.Redactor{mask, hash} {
			out, _, err := r.Apply(in, fm)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if bytes.Contains(out, []byte(p)) {
				t.Fatalf("format %d: planted %q survived:\n in %q\nout %q", fm, p, in, out)
			}
		}
		once, _, _ := mask.Apply(data, fm)
		twice, _, err := mask.Apply(once, fm)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("mask is not idempotent (format %d):\n  in %q\nonce %q\ntwice %q", fm, data, once, twice)
		}
	})
}

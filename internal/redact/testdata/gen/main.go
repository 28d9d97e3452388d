// Command gen writes the labelled corpus of the redact package's detectors,
// testdata/corpus.jsonl: one JSON object per line with the text and the
// spans a detector should find in it ({"detector","start","end"}, byte
// offsets). Lines with no spans are negatives: values that look like
// personal data but are not (order ids, timestamps, versions, 16-digit
// numbers that fail Luhn, SSN-shaped dates and unassigned SSNs...).
//
// The output is deterministic (fixed seed). Regenerate with
//
//	go generate ./internal/redact/
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

type span struct {
	Detector string `json:"detector"`
	Start    int    `json:"start"`
	End      int    `json:"end"`
}

type line struct {
	Text  string `json:"text"`
	Spans []span `json:"spans"`
}

// builder assembles a text while recording labelled spans.
type builder struct {
	sb    strings.Builder
	spans []span
}

func (b *builder) s(text string) *builder { b.sb.WriteString(text); return b }
func (b *builder) v(det, value string) *builder {
	start := b.sb.Len()
	b.sb.WriteString(value)
	b.spans = append(b.spans, span{det, start, b.sb.Len()})
	return b
}
func (b *builder) line() line { return line{Text: b.sb.String(), Spans: b.spans} }

var rng = rand.New(rand.NewPCG(6, 2026))

func digits(n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteByte(byte('0' + rng.IntN(10)))
	}
	return sb.String()
}

func pick[T any](xs ...T) T { return xs[rng.IntN(len(xs))] }

// luhnDigit returns the check digit that makes body+digit pass Luhn.
func luhnDigit(body string) byte {
	sum := 0
	for i := range len(body) {
		d := int(body[len(body)-1-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

func card(valid bool) string {
	prefix := pick("4", "51", "55", "2221", "34", "37", "6011", "35")
	n := pick(16, 16, 16, 15, 19, 13)
	if prefix == "34" || prefix == "37" {
		n = 15
	}
	body := prefix + digits(n-1-len(prefix))
	c := luhnDigit(body)
	if !valid {
		c = byte('0' + (int(c-'0')+1+rng.IntN(9))%10)
	}
	num := body + string(c)
	switch pick(0, 1, 2) {
	case 1:
		return group(num, " ")
	case 2:
		return group(num, "-")
	}
	return num
}

func group(s, sep string) string {
	var parts []string
	for len(s) > 4 {
		parts = append(parts, s[:4])
		s = s[4:]
	}
	return strings.Join(append(parts, s), sep)
}

func ssn() string {
	area := 1 + rng.IntN(899)
	for area == 666 {
		area = 1 + rng.IntN(899)
	}
	return fmt.Sprintf("%03d-%02d-%04d", area, 1+rng.IntN(99), 1+rng.IntN(9999))
}

func invalidSSN() string {
	switch rng.IntN(4) {
	case 0:
		return fmt.Sprintf("000-%02d-%04d", 1+rng.IntN(99), 1+rng.IntN(9999))
	case 1:
		return fmt.Sprintf("666-%02d-%04d", 1+rng.IntN(99), 1+rng.IntN(9999))
	case 2:
		return fmt.Sprintf("9%02d-%02d-%04d", rng.IntN(100), 1+rng.IntN(99), 1+rng.IntN(9999))
	}
	return fmt.Sprintf("%03d-00-%04d", 1+rng.IntN(665), 1+rng.IntN(9999))
}

var ibanCountries = []struct {
	cc  string
	len int
}{{"DE", 22}, {"GB", 22}, {"FR", 27}, {"ES", 24}, {"NL", 18}, {"IT", 27}, {"BE", 16}, {"CH", 21}, {"PL", 28}, {"NO", 15}}

func iban(valid bool) string {
	c := pick(ibanCountries...)
	bban := digits(c.len - 4)
	if c.cc == "GB" || c.cc == "NL" {
		bban = pick("NWBK", "WEST", "ABNA", "INGB") + digits(c.len-8)
	}
	check := 98 - mod97(bban+c.cc+"00")
	if !valid {
		check = (check + 1 + rng.IntN(90)) % 97
		if check < 2 {
			check += 2
		}
	}
	s := fmt.Sprintf("%s%02d%s", c.cc, check, bban)
	if rng.IntN(2) == 0 {
		return group(s, " ")
	}
	return s
}

func mod97(s string) int {
	r := 0
	for _, ch := range s {
		if ch >= 'A' && ch <= 'Z' {
			r = (r*100 + int(ch-'A'+10)) % 97
		} else {
			r = (r*10 + int(ch-'0')) % 97
		}
	}
	return r
}

func email() string {
	user := pick("john.doe", "jane", "a.b+tag", "m_smith", "k-lee", "user42", "Maria.Garcia")
	dom := pick("example.com", "mail.example.org", "corp.co.uk", "EXAMPLE.NET", "uni-x.edu")
	return user + "@" + dom
}

func phone() string {
	area := fmt.Sprintf("%d%s", 2+rng.IntN(8), digits(2))
	exch := fmt.Sprintf("%d%s", 2+rng.IntN(8), digits(2))
	line := digits(4)
	switch rng.IntN(8) {
	case 0:
		return fmt.Sprintf("(%s) %s-%s", area, exch, line)
	case 1:
		return fmt.Sprintf("%s-%s-%s", area, exch, line)
	case 2:
		return fmt.Sprintf("%s.%s.%s", area, exch, line)
	case 3:
		return fmt.Sprintf("+1 %s %s %s", area, exch, line)
	case 4:
		return fmt.Sprintf("1-%s-%s-%s", area, exch, line)
	case 5:
		return "+44 20 " + digits(4) + " " + digits(4)
	case 6:
		return "+49 30 " + digits(7)
	}
	return "+33 " + fmt.Sprint(1+rng.IntN(9)) + " " + digits(2) + " " + digits(2) + " " + digits(2) + " " + digits(2)
}

func ipv4() string {
	return fmt.Sprintf("%d.%d.%d.%d", 1+rng.IntN(223), rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
}

func ipv6() string {
	switch rng.IntN(3) {
	case 0:
		return fmt.Sprintf("2001:db8:%x:%x::%x", rng.IntN(65536), rng.IntN(65536), 1+rng.IntN(65535))
	case 1:
		return fmt.Sprintf("fe80::%x:%x:%x:%x", rng.IntN(65536), rng.IntN(65536), rng.IntN(65536), 1+rng.IntN(65535))
	}
	var g []string
	for range 8 {
		g = append(g, fmt.Sprintf("%x", rng.IntN(65536)))
	}
	return strings.Join(g, ":")
}

func positive() line {
	b := &builder{}
	switch rng.IntN(7) {
	case 0:
		b.s(pick("contact ", "email: ", "Reply to <", "cc=")).v("email", email()).s(pick(" today", ">", ".", ""))
	case 1:
		b.s(pick("call ", "tel: ", "Phone ", "mobile=")).v("phone", phone()).s(pick(" after 5pm", ".", "", ", thanks"))
	case 2:
		b.s(pick("card ", "paid with ", "cc_number=", "PAN: ")).v("payment_card", card(true)).s(pick(" exp 12/27", ".", "", " ok"))
	case 3:
		b.s(pick("SSN ", "ssn: ", "social security number ", "id=")).v("us_ssn", ssn()).s(pick(" on file", ".", ""))
	case 4:
		b.s(pick("IBAN ", "pay to ", "account: ")).v("iban", iban(true)).s(pick(" EUR", ".", "", " ref 42"))
	case 5:
		b.s(pick("from ", "client ip ", "X-Forwarded-For: ")).v("ipv4", ipv4()).s(pick(" port 443", "", ".", ", 10.0.0.1 hop"))
		if strings.HasSuffix(b.sb.String(), "10.0.0.1 hop") {
			t := b.sb.String()
			i := strings.LastIndex(t, "10.0.0.1")
			b.spans = append(b.spans, span{"ipv4", i, i + len("10.0.0.1")})
		}
	case 6:
		b.s(pick("from ", "addr=", "peer [")).v("ipv6", ipv6()).s(pick("]", " via eth0", "", "."))
	}
	return b.line()
}

func mixed() line {
	b := &builder{}
	b.s("applicant ").v("email", email()).s(", phone ").v("phone", phone()).s(", card ").v("payment_card", card(true)).
		s(", ssn ").v("us_ssn", ssn()).s(", iban ").v("iban", iban(true)).s(" seen from ").v("ipv4", ipv4()).
		s(" order ORD-" + digits(8) + " at 2024-03-0" + fmt.Sprint(1+rng.IntN(9)) + "T12:30:45Z")
	return b.line()
}

func negative() line {
	b := &builder{}
	switch rng.IntN(16) {
	case 0:
		b.s("order id " + digits(16) + " shipped") // Luhn holds for 1 in 10; fixed below
		t := b.sb.String()
		num := t[9:25]
		if luhnOK(num) {
			return negative()
		}
	case 1:
		b.s(fmt.Sprintf("card on file %s was declined", card(false)))
	case 2:
		b.s(fmt.Sprintf("ts=%d%s", 1700000000+rng.IntN(99999999), pick("", "123")))
	case 3:
		b.s(fmt.Sprintf("build %d.%d.%d released", rng.IntN(10), rng.IntN(30), rng.IntN(200)))
	case 4:
		b.s(fmt.Sprintf("version %d.%d.%d.%d", rng.IntN(10), rng.IntN(10), rng.IntN(10), rng.IntN(10)))
	case 5:
		b.s(fmt.Sprintf("on 2024-%02d-%02d at %02d:%02d:%02d", 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60)))
	case 6:
		b.s("ref " + invalidSSN() + " is not assigned")
	case 7:
		b.s(fmt.Sprintf("score 0.%s, weight %d.%s", digits(17), rng.IntN(100), digits(15)))
	case 8:
		b.s(fmt.Sprintf("batch %s-%s-%s", digits(4), digits(2), digits(2)))
	case 9:
		b.s("sha " + fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()))
	case 10:
		b.s(fmt.Sprintf("mac 00:1a:%02x:%02x:%02x:%02x", rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256)))
	case 11:
		b.s("iban " + iban(false) + " failed validation")
	case 12:
		b.s("user@localhost and name@host have no TLD; @handle is social")
	case 13:
		b.s(fmt.Sprintf("std::vector<int> size %d, ratio 3:2:1", rng.IntN(1000)))
	case 14:
		b.s(fmt.Sprintf("tracking ORD%s and SKU-%s-%s", digits(16), digits(3), digits(4)))
	case 15:
		b.s(fmt.Sprintf("%d,%d,%s,%d.%d,%d", rng.IntN(100), rng.IntN(2), digits(5), rng.IntN(1000), rng.IntN(100), 1000000000+rng.IntN(99999999)))
	}
	return b.line()
}

func luhnOK(num string) bool {
	return luhnDigit(num[:len(num)-1]) == num[len(num)-1]
}

func main() {
	out := flag.String("o", "testdata/corpus.jsonl", "output file")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var lines []line
	for range 280 {
		lines = append(lines, positive())
	}
	for range 40 {
		lines = append(lines, mixed())
	}
	for range 240 {
		lines = append(lines, negative())
	}
	for _, l := range lines {
		if l.Spans == nil {
			l.Spans = []span{}
		}
		if err := enc.Encode(l); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := w.Flush(); err == nil {
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

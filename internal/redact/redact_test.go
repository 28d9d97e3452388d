package redact_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/redact"
)

// issueRules are the rules issue 6 asks to work, verbatim.
var issueRules = []redact.Rule{
	{Detector: redact.Email, Action: redact.Hash},
	{Detector: redact.PaymentCard, Action: redact.Mask},
	{JSONPath: "$.applicant.ssn", Action: redact.Drop},
	{CSVColumn: "3", Action: redact.Mask},
}

func mustNew(tb testing.TB, rules []redact.Rule, key string) *redact.Redactor {
	tb.Helper()
	r, err := redact.New(rules, []byte(key))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func apply(tb testing.TB, r *redact.Redactor, in string, f redact.Format) (string, []string) {
	tb.Helper()
	out, fired, err := r.Apply([]byte(in), f)
	if err != nil {
		tb.Fatal(err)
	}
	return string(out), fired
}

func TestRedactor_Apply(t *testing.T) {
	r := mustNew(t, issueRules, "k1")
	mail, _ := apply(t, r, "x@y.org", redact.Text)
	tests := []struct {
		name, in string
		format   redact.Format
		want     string
		fired    []string
	}{
		{"json path drop and detectors", `{"applicant": {"ssn": "123-45-6789", "email": "x@y.org", "card": 4111111111111111}, "score": 0.5}`, redact.JSON,
			`{"applicant": { "email": "` + mail + `", "card": "[REDACTED:payment_card]"}, "score": 0.5}`,
			[]string{"email:hash", "payment_card:mask", "json_path:$.applicant.ssn:drop"}},
		{"json path elsewhere untouched", `{"x": {"applicant": {"ssn": 1}}, "applicant": {"age": 3}}`, redact.JSON,
			`{"x": {"applicant": {"ssn": 1}}, "applicant": {"age": 3}}`, nil},
		{"json escapes are decoded", `{"m": "x\u0040y.org"}`, redact.JSON, `{"m": "` + mail + `"}`, []string{"email:hash"}},
		{"json keys scanned", `{"x@y.org": 1}`, redact.JSON, `{"` + mail + `": 1}`, []string{"email:hash"}},
		{"json lines", "{\"a\": \"x@y.org\"}\n{\"a\": 2}\n", redact.JSON, "{\"a\": \"" + mail + "\"}\n{\"a\": 2}\n", []string{"email:hash"}},
		{"invalid json falls back to text", `{"email": "x@y.org", `, redact.JSON, `{"email": "` + mail + `", `, []string{"email:hash"}},
		{"csv column and detectors", "1,x@y.org,4111 1111 1111 1111,secret,5\n2,a,b,\"sec,ret\",6\r\n", redact.CSV,
			"1," + mail + ",[REDACTED:payment_card],[REDACTED:field],5\n2,a,b,\"[REDACTED:field]\",6\r\n",
			[]string{"email:hash", "payment_card:mask", "csv_column:3:mask"}},
		{"csv empty field left alone", "a,b,c,,e", redact.CSV, "a,b,c,,e", nil},
		{"text", "mail x@y.org, card 4111-1111-1111-1111.", redact.Text, "mail " + mail + ", card [REDACTED:payment_card].",
			[]string{"email:hash", "payment_card:mask"}},
		{"nothing", "plain 1234 text", redact.Text, "plain 1234 text", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, fired := apply(t, r, tc.in, tc.format)
			if got != tc.want {
				t.Errorf("Apply(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if !slices.Equal(fired, tc.fired) {
				t.Errorf("fired = %q, want %q", fired, tc.fired)
			}
		})
	}
}

func TestRedactor_Apply_actions(t *testing.T) {
	for _, tc := range []struct {
		rule redact.Rule
		in   string
		f    redact.Format
		want string
	}{
		{redact.Rule{Detector: redact.USSSN, Action: redact.Drop}, "ssn 123-45-6789 ok", redact.Text, "ssn  ok"},
		{redact.Rule{Detector: redact.Phone, Action: redact.Mask}, `{"p": "+1 (415) 555-2671"}`, redact.JSON, `{"p": "[REDACTED:phone]"}`},
		{redact.Rule{Detector: redact.PaymentCard, Action: redact.Drop}, `[4111111111111111, 2]`, redact.JSON, `[null, 2]`},
		{redact.Rule{JSONPath: "$.a[*].ssn", Action: redact.Mask}, `{"a": [{"ssn": {"x": 1}}, {"ssn": 5}]}`, redact.JSON, `{"a": [{"ssn": "[REDACTED:field]"}, {"ssn": "[REDACTED:field]"}]}`},
		{redact.Rule{JSONPath: "$.a[1]", Action: redact.Drop}, `{"a": [1, 2, 3]}`, redact.JSON, `{"a": [1, null, 3]}`},
		{redact.Rule{JSONPath: "$['b c']", Action: redact.Drop}, `{"a": 1, "b c": 2}`, redact.JSON, `{"a": 1}`},
		{redact.Rule{CSVColumn: "email", Action: redact.Drop}, "id,email\n1,a\n2,b", redact.CSV, "id,email\n1,\n2,"},
		{redact.Rule{CSVColumn: "email", Action: redact.Drop}, "1,a\n2,b", redact.CSV, "1,a\n2,b"},
	} {
		r := mustNew(t, []redact.Rule{tc.rule}, "k")
		if got, _ := apply(t, r, tc.in, tc.f); got != tc.want {
			t.Errorf("%s on %q = %q, want %q", tc.rule.ID(), tc.in, got, tc.want)
		}
	}
}

func TestRedactor_Apply_hashTokens(t *testing.T) {
	r1 := mustNew(t, issueRules, "key-one")
	r2 := mustNew(t, issueRules, "key-two")
	a, _ := apply(t, r1, "Jane.Doe@Example.com", redact.Text)
	b, _ := apply(t, r1, `{"e": "jane.doe@example.com"}`, redact.JSON)
	c, _ := apply(t, r2, "jane.doe@example.com", redact.Text)
	if !strings.HasPrefix(a, "[HMAC:email:") || len(a) != len("[HMAC:email:]")+16 {
		t.Fatalf("token %q", a)
	}
	if !strings.Contains(b, a) {
		t.Errorf("the same address (other case) gave another token: %q vs %q", a, b)
	}
	if a == c {
		t.Errorf("two keys gave one token %q", a)
	}
}

func TestRedactor_Apply_maskIdempotent(t *testing.T) {
	r := mustNew(t, []redact.Rule{
		{Detector: redact.Email, Action: redact.Mask}, {Detector: redact.PaymentCard, Action: redact.Mask},
		{Detector: redact.IPv6, Action: redact.Mask}, {CSVColumn: "1", Action: redact.Mask},
	}, "")
	in := "a@b.co,4111111111111111,fe80::1:2\n"
	once, _ := apply(t, r, in, redact.CSV)
	twice, fired := apply(t, r, once, redact.CSV)
	if once != twice {
		t.Errorf("second pass changed %q to %q", once, twice)
	}
	if slices.Contains(fired, "email:mask") {
		t.Errorf("a token was detected again: %v", fired)
	}
}

func TestRedactor_Apply_unchangedAliases(t *testing.T) {
	r := mustNew(t, issueRules, "k")
	in := []byte(`{"a": 1}`)
	out, fired, err := r.Apply(in, redact.JSON)
	if err != nil || fired != nil || &out[0] != &in[0] {
		t.Errorf("Apply of a clean payload = %q, %v, %v; want the input itself", out, fired, err)
	}
}

func TestNew_errors(t *testing.T) {
	for _, tc := range []struct {
		rule redact.Rule
		key  string
		want string
	}{
		{redact.Rule{Detector: "passport", Action: redact.Mask}, "k", "unknown detector"},
		{redact.Rule{Detector: redact.Email}, "k", "no action"},
		{redact.Rule{Detector: redact.Email, Action: "encrypt"}, "k", "unknown action"},
		{redact.Rule{Detector: redact.Email, Action: redact.Hash}, "", "needs an HMAC key"},
		{redact.Rule{Detector: redact.Email, CSVColumn: "1", Action: redact.Mask}, "k", "exactly one"},
		{redact.Rule{Action: redact.Mask}, "k", "exactly one"},
		{redact.Rule{JSONPath: "$..a", Action: redact.Mask}, "k", "recursive descent"},
		{redact.Rule{JSONPath: "$", Action: redact.Mask}, "k", "whole payload"},
		{redact.Rule{JSONPath: "a.b", Action: redact.Mask}, "k", "must start with $"},
		{redact.Rule{CSVColumn: `a"b`, Action: redact.Mask}, "k", "quote"},
	} {
		_, err := redact.New([]redact.Rule{tc.rule}, []byte(tc.key))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.rule, err, tc.want)
		}
	}
	_, err := redact.New([]redact.Rule{{Detector: redact.Email, Action: redact.Mask}, {Detector: redact.Email, Action: redact.Hash}}, []byte("k"))
	if err == nil {
		t.Error("a detector in two rules was accepted")
	}
}

func TestFind(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string // "detector=value"
	}{
		{"mail john.doe+x@Example.co.uk now", []string{"email=john.doe+x@Example.co.uk"}},
		{"user@localhost, @handle, a@b.c", nil},
		{"card 4111 1111 1111 1111 exp 2027", []string{"payment_card=4111 1111 1111 1111"}},
		{"4111-1111-1111-1112 (bad Luhn), 0.4111111111111111, ORD4111111111111111", nil},
		{"amex 378282246310005; ms 1700000000000", []string{"payment_card=378282246310005"}},
		{"ssn 123-45-6789; 000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000", []string{"us_ssn=123-45-6789"}},
		{"2024-01-15 12:30:45 1-2-3", nil},
		{"(415) 555-2671, 415.555.2671, 1-415-555-2671", []string{"phone=(415) 555-2671", "phone=415.555.2671", "phone=1-415-555-2671"}},
		{"+44 20 7946 0958 or +1 (415) 555-2671 or +14155552671", []string{"phone=+44 20 7946 0958", "phone=+1 (415) 555-2671", "phone=+14155552671"}},
		{"415-555-267 and 4155552671 and 115-555-2671", nil},
		{"DE89 3704 0044 0532 0130 00 EUR; GB82WEST12345698765432", []string{"iban=DE89 3704 0044 0532 0130 00", "iban=GB82WEST12345698765432"}},
		{"DE88 3704 0044 0532 0130 00", nil}, // check digits wrong
		{"ip 192.168.1.10, 10.0.0.256, 1.2.3.4.5, version 1.2.3.4, v1.2.3.4", []string{"ipv4=192.168.1.10"}},
		{"2001:db8::8a2e:370:7334, fe80::1, ::ffff:10.1.2.3", []string{"ipv6=2001:db8::8a2e:370:7334", "ipv6=fe80::1", "ipv6=::ffff:10.1.2.3"}},
		{"12:30:45, 00:1a:2b:3c:4d:5e, std::vector, ::1", nil},
	} {
		var got []string
		for _, m := range redact.Find([]byte(tc.text)) {
			got = append(got, m.Detector+"="+tc.text[m.Start:m.End])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Find(%q)\n got %q\nwant %q", tc.text, got, tc.want)
		}
	}
}

func TestRedactor_Apply_neverReturnsPlantedValue(t *testing.T) {
	r := mustNew(t, allDetectors(redact.Mask), "k")
	for _, f := range []redact.Format{redact.Text, redact.CSV, redact.JSON} {
		for _, p := range planted {
			for _, wrap := range []string{"%s", `{"v": "%s"}`, `{"%s": 1}`, `"x","%s"`, `[%s]`} {
				in := strings.Replace(wrap, "%s", p, 1)
				out, _ := apply(t, r, in, f)
				if core := plantedCore(p); bytes.Contains([]byte(out), []byte(core)) {
					t.Errorf("format %d: %q -> %q still holds %q", f, in, out, core)
				}
			}
		}
	}
}

func allDetectors(a redact.Action) []redact.Rule {
	var rules []redact.Rule
	for _, d := range redact.Detectors() {
		rules = append(rules, redact.Rule{Detector: d, Action: a})
	}
	return rules
}

// planted are values every detector must find wherever they are put, as
// long as they stand apart from neighbouring words.
var planted = []string{"jane.doe@example.com", "4111 1111 1111 1111", "5555555555554444", "123-45-6789",
	"DE89370400440532013000", "+44 20 7946 0958", "(415) 555-2671", "203.0.113.77", "2001:db8::dead:beef"}

// plantedCore is the part of a planted value that must never survive.
func plantedCore(p string) string { return p }

package main

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/redact"
)

// TestRedact_endToEnd serves an endpoint with redaction rules, sends CSV
// and JSON traffic with planted personal data, and then reads every byte
// under the spool and the blob store: no planted value may appear in
// clear, and the hash token of one e-mail is the same in every record.
func TestRedact_endToEnd(t *testing.T) {
	// The model answers with the request's body and content type, so the
	// response carries the same personal data back.
	m := startTestModel(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		_, _ = w.Write(b)
	})
	g := startGateway(t, endpointYAML("loans", m.URL, `      redact:
        - {detector: email, action: hash}
        - {detector: payment_card, action: mask}
        - {json_path: $.applicant.ssn, action: drop}
        - {csv_column: 3, action: mask}
        - {detector: us_ssn, action: mask}
        - {detector: iban, action: hash}
        - {detector: phone, action: mask}
        - {detector: ipv4, action: mask}
        - {detector: ipv6, action: drop}
`))
	planted := []string{
		"jane.doe@example.com", "Jane.Doe@Example.com", "4111 1111 1111 1111", "5555555555554444",
		"123-45-6789", "078-05-1120", "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
		"+44 20 7946 0958", "(415) 555-2671", "203.0.113.77", "2001:db8::dead:beef", "column-three-secret",
	}
	csvBody := "42,jane.doe@example.com,4111 1111 1111 1111,column-three-secret,(415) 555-2671,203.0.113.77\n" +
		"43,\"Jane.Doe@Example.com\",078-05-1120,\"column-three-secret\",DE89 3704 0044 0532 0130 00,2001:db8::dead:beef\n"
	jsonBody := `{"applicant": {"ssn": "123-45-6789", "email": "jane.doe@example.com", "card": 5555555555554444,
		"iban": "GB82WEST12345698765432", "phone": "+44 20 7946 0958"}, "ip": "203.0.113.77", "score_inputs": [1, 2.5]}`
	for _, req := range []struct{ ct, body string }{
		{"text/csv", csvBody}, {"application/json", jsonBody}, {"text/csv", csvBody},
	} {
		resp, _ := post(t, g.URL+"/endpoints/loans/invocations", req.ct, []byte(req.body), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	spool := filepath.Join(filepath.Dir(g.Data), "spool")
	recs := g.Records(t) // stops the gateway: everything is written and uploaded

	for _, dir := range []string{spool, g.Data} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, p := range planted {
				if bytes.Contains(b, []byte(p)) {
					t.Errorf("%s holds %q in clear", path, p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	tokenRE := regexp.MustCompile(`\[HMAC:email:[0-9a-f]{16}\]`)
	tokens := map[string]int{}
	n := 0
	for _, lines := range recs {
		for _, l := range lines {
			n++
			r, err := capture.DecodeRecord([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			in := r.CaptureData.EndpointInput.Data
			for _, tok := range tokenRE.FindAllString(in, -1) {
				tokens[tok]++
			}
			if len(r.Glassbox.Redactions) == 0 || !slices.Contains(r.Glassbox.Redactions, "email:hash") {
				t.Errorf("record notes redactions %q, want email:hash among them", r.Glassbox.Redactions)
			}
			if strings.HasPrefix(in, "{") && !slices.Contains(r.Glassbox.Redactions, "json_path:$.applicant.ssn:drop") {
				t.Errorf("JSON record notes %q, want the json_path rule", r.Glassbox.Redactions)
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d records, want 3", n)
	}
	// Two CSV requests with two spellings of one address, and the JSON
	// request: one token, seen 2+2+1 times in the inputs (and as many in
	// the echoed outputs, which are not counted here).
	if len(tokens) != 1 {
		t.Errorf("e-mail tokens %v, want one token for one address", tokens)
	}
	for tok, c := range tokens {
		if c != 5 {
			t.Errorf("token %s seen %d times, want 5", tok, c)
		}
	}
	if fi, err := os.Stat(filepath.Join(spool, redactKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("redaction key file: %v, %v; want mode 0600", fi, err)
	}
}

// TestRedact_keyIsStable proves the key file is created once and reused.
func TestRedact_keyIsStable(t *testing.T) {
	dir := t.TempDir()
	k1, err := loadRedactKeyFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := loadRedactKeyFile(dir)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) != redactKeyBytes {
		t.Fatalf("second load = %x, %v; want %x", k2, err, k1)
	}
}

// TestRedact_configMatchesEngine keeps config's list of detectors equal to
// the engine's (config imports nothing from the project), and checks that
// every rule config accepts builds.
func TestRedact_configMatchesEngine(t *testing.T) {
	if got, want := config.RedactDetectors(), redact.Detectors(); !slices.Equal(got, want) {
		t.Errorf("config.RedactDetectors() = %q, redact.Detectors() = %q", got, want)
	}
	cfg, err := config.Load("../../internal/config/testdata/redact.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gatewayEndpointsWithKey(cfg, []byte("k")); err != nil {
		t.Errorf("a valid capture.redact does not build: %v", err)
	}
}

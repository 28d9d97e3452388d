package redact_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/redact"
)

// benchRules are the issue's rules plus every other detector (mask), the
// heaviest realistic configuration.
func benchRules() []redact.Rule {
	rules := append([]redact.Rule{}, issueRules...)
	for _, d := range []string{redact.Phone, redact.USSSN, redact.IBAN, redact.IPv4, redact.IPv6} {
		rules = append(rules, redact.Rule{Detector: d, Action: redact.Mask})
	}
	return rules
}

// churnRow is a churn-like CSV record of 70 fields: mostly numbers, a few
// codes, and (every tenth row) an e-mail and a phone number.
func churnRow(rng *rand.Rand, pii bool) string {
	f := make([]string, 70)
	for i := range f {
		switch {
		case i%7 == 0:
			f[i] = fmt.Sprint(rng.IntN(2))
		case i%5 == 0:
			f[i] = fmt.Sprintf("%.6f", rng.Float64()*100)
		case i%11 == 0:
			f[i] = fmt.Sprintf("%d-%03d-%04d", rng.IntN(10), rng.IntN(1000), rng.IntN(10000))
		default:
			f[i] = fmt.Sprint(rng.IntN(1000))
		}
	}
	if pii {
		f[3] = "customer-name"
		f[12] = "jane.doe@example.com"
		f[20] = "(415) 555-2671"
	}
	return strings.Join(f, ",")
}

const applicantJSON = `{"applicant": {"name": "Jane Doe", "ssn": "123-45-6789", "email": "jane.doe@example.com",
 "phone": "+1 (415) 555-2671", "dob": "1984-03-02", "address": {"street": "1 Main St", "city": "Springfield", "zip": "62701"},
 "income": 85000, "employment_years": 7, "card": "4111 1111 1111 1111", "iban": "DE89 3704 0044 0532 0130 00"},
 "loan": {"amount": 25000, "term_months": 60, "purpose": "car", "rate": 0.0599},
 "features": [0.12, 0.56, 0.33, 0.91, 0.05, 0.77, 0.18, 0.64], "request_ip": "203.0.113.77", "ts": "2024-03-05T12:30:45Z"}`

func benchApply(b *testing.B, payload []byte, f redact.Format) {
	r := mustNew(b, benchRules(), "bench-key")
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Apply(payload, f); err != nil {
			b.Fatal(err)
		}
	}
}

func csvPayload(rows int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for i := range rows {
		sb.WriteString(churnRow(rng, i%10 == 0))
		sb.WriteByte('\n')
	}
	return []byte(sb.String())
}

func jsonPayload(records int) []byte {
	var sb strings.Builder
	for range records {
		sb.WriteString(strings.ReplaceAll(applicantJSON, "\n", ""))
		sb.WriteByte('\n')
	}
	return []byte(sb.String())
}

func textPayload(size int) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"the", "model", "scored", "request", "customer", "12", "0.75", "2024-03-05", "v1.2.3", "ok", "id", "ORD-12345678"}
	var sb strings.Builder
	for sb.Len() < size {
		if rng.IntN(50) == 0 {
			sb.WriteString(pick(rng, "jane.doe@example.com", "+44 20 7946 0958", "203.0.113.77", "4111 1111 1111 1111"))
		} else {
			sb.WriteString(words[rng.IntN(len(words))])
		}
		sb.WriteByte(' ')
	}
	return []byte(sb.String())
}

func pick(rng *rand.Rand, xs ...string) string { return xs[rng.IntN(len(xs))] }

// Throughput on ~1 MiB payloads (MB/s per core: the benchmarks run on one
// goroutine).
func BenchmarkRedactCSV(b *testing.B)  { benchApply(b, csvPayload(3000), redact.CSV) }
func BenchmarkRedactJSON(b *testing.B) { benchApply(b, jsonPayload(1500), redact.JSON) }
func BenchmarkRedactText(b *testing.B) { benchApply(b, textPayload(1<<20), redact.Text) }

// Per-record cost: one churn-like 70-field CSV row (with and without PII)
// and one typical JSON applicant record.
func BenchmarkRedactRecordCSV(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	b.Run("clean", func(b *testing.B) { benchApply(b, []byte(churnRow(rng, false)), redact.CSV) })
	b.Run("pii", func(b *testing.B) { benchApply(b, []byte(churnRow(rng, true)), redact.CSV) })
}

func BenchmarkRedactRecordJSON(b *testing.B) { benchApply(b, []byte(applicantJSON), redact.JSON) }

// TestApply_adversarialIsLinear guards against quadratic scans: payloads
// built to stress one detector each must redact at a similar rate.
func TestApply_adversarialIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	r := mustNew(t, benchRules(), "k")
	for name, unit := range map[string]string{
		"at":       "a@",
		"dots":     "1.",
		"colons":   "a:",
		"digits":   "1 ",
		"plus":     "+1 ",
		"iban":     "DE12 ",
		"tokens":   "[REDACTED:email]1@a.bc ",
		"quotes":   `"a""`,
		"brackets": "[",
	} {
		for _, f := range []redact.Format{redact.Text, redact.CSV, redact.JSON} {
			small := []byte(strings.Repeat(unit, 2000))
			big := []byte(strings.Repeat(unit, 16000))
			ts := timeApply(r, small, f)
			tb := timeApply(r, big, f)
			if ratio := float64(tb) / float64(ts); ratio > 8*4 { // 8x the input, 4x slack
				t.Errorf("%s format %d: 8x the input took %.0fx the time", name, f, ratio)
			}
		}
	}
}

func timeApply(r *redact.Redactor, b []byte, f redact.Format) int64 {
	best := int64(1 << 62)
	for range 3 {
		start := nowNanos()
		_, _, _ = r.Apply(b, f)
		if d := nowNanos() - start; d < best {
			best = d
		}
	}
	return max(best, 1)
}

func nowNanos() int64 { return time.Now().UnixNano() }

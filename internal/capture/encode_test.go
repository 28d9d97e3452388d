package capture_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

// TestAppendLine_MatchesAppendRecord checks that the fast encoder writes
// exactly the bytes encoding/json writes for the same record.
func TestAppendLine_MatchesAppendRecord(t *testing.T) {
	bodies := []string{
		"", "1,2,3\n", `{"a": "b<c>&d", "e": "\u2028\u2029"}`, "tab\there\x00\x1f\x7f",
		"\b\f\n\r\"\\", "Zoë ünïcödé 日本", "bad utf8 \xff\xfe", strings.Repeat("x", 100),
	}
	cts := []string{"text/csv", "application/json; charset=utf-8", "image/png", "", "bad\x01type\xff"}
	for _, strict := range []bool{false, true} {
		for _, modes := range [][2]bool{{true, true}, {true, false}, {false, true}} {
			for i, body := range bodies {
				for j, ct := range cts {
					ex := &capture.Exchange{
						Policy: &capture.Policy{
							Endpoint: "ep", Enabled: true, Input: modes[0], Output: modes[1], Strict: strict,
							ContentTypes:    capture.NewContentTypes([]string{"text/csv"}, []string{"application/json"}),
							MaxPayloadBytes: 50,
						},
						EventID: "id-\"1", InferenceID: map[bool]string{true: "inf"}[i%2 == 0],
						CustomAttributes: map[bool]string{true: "a=b\n"}[j%2 == 0],
						Variant:          "v", Time: time.Date(2026, 11, 22, 10, 0, 12, 345678901, time.FixedZone("x", 3600)),
						Latency: 1234 * time.Microsecond, Status: 200 + i,
						Method: map[bool]string{true: "POST"}[i%3 == 0], Path: map[bool]string{true: "/v1/x"}[i%3 == 0],
						InputContentType: ct, Input: []byte(body), InputSize: int64(len(body)) + int64(i%2),
						HasOutput: j != 2, OutputContentType: cts[(j+1)%len(cts)], Output: []byte(body), OutputSize: int64(len(body)),
						Error: map[bool]string{true: "upstream <down>"}[j == 2],
					}
					var want bytes.Buffer
					if err := capture.AppendRecord(&want, ex.Record()); err != nil {
						t.Fatal(err)
					}
					if got := capture.AppendLine(nil, ex); string(got) != want.String() {
						t.Errorf("AppendLine(body %q, ct %q, strict %v, modes %v)\n got %s\nwant %s", body, ct, strict, modes, got, want.String())
					}
				}
			}
		}
	}
}

func BenchmarkAppendLine(b *testing.B) {
	ex := &capture.Exchange{
		Policy: &capture.Policy{Endpoint: "ep", Enabled: true, Input: true, Output: true,
			ContentTypes: capture.NewContentTypes([]string{"text/csv"}, []string{"application/json"})},
		EventID: "6f0c0d5e-8f21-4a3b-9c11-2e7f64a0d913", Variant: "AllTraffic", Time: time.Now(), Status: 200,
		InputContentType: "application/json", Input: bytes.Repeat([]byte(`{"k": "value", "n": 12.5}`), 8),
		HasOutput: true, OutputContentType: "application/json", Output: bytes.Repeat([]byte(`{"p": 0.5}`), 100),
	}
	ex.InputSize, ex.OutputSize = int64(len(ex.Input)), int64(len(ex.Output))
	b.Run("AppendLine", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = capture.AppendLine(buf[:0], ex)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("AppendRecord", func(b *testing.B) {
		var buf bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			_ = capture.AppendRecord(&buf, ex.Record())
		}
		b.SetBytes(int64(buf.Len()))
	})
}

// FuzzAppendLine checks the fast encoder against encoding/json on arbitrary
// payloads, content types and ids.
func FuzzAppendLine(f *testing.F) {
	f.Add("text/csv", []byte("1,2\n"), "id", "attrs", false)
	f.Add("application/json", []byte(`{"a":"\u2028<>"}`), "", "", true)
	f.Add("image/png", []byte{0xff, 0, 1}, "i\x00d", "\xff", false)
	f.Fuzz(func(t *testing.T, ct string, body []byte, infID, attrs string, strict bool) {
		ex := &capture.Exchange{
			Policy: &capture.Policy{Endpoint: "ep", Enabled: true, Input: true, Output: true, Strict: strict,
				ContentTypes: capture.NewContentTypes([]string{"text/csv"}, []string{"application/json"}), MaxPayloadBytes: 64},
			EventID: "e", InferenceID: infID, CustomAttributes: attrs, Variant: "v", Time: time.Unix(1e9, 5),
			InputContentType: ct, Input: body, InputSize: int64(len(body)),
			HasOutput: true, OutputContentType: ct, Output: body, OutputSize: int64(len(body)), Error: attrs,
		}
		var want bytes.Buffer
		if err := capture.AppendRecord(&want, ex.Record()); err != nil {
			t.Fatal(err)
		}
		if got := capture.AppendLine(nil, ex); string(got) != want.String() {
			t.Fatalf("AppendLine\n got %s\nwant %s", got, want.String())
		}
	})
}

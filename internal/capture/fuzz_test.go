package capture_test

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

// glassboxLine is a full Glassbox capture line: both payloads, ids,
// attributes and the extra object.
const glassboxLine = `{"captureData":{"endpointInput":{"observedContentType":"application/json","mode":"INPUT","data":"{\"a\":\"<é>\"}","encoding":"JSON"},` +
	`"endpointOutput":{"observedContentType":"application/octet-stream","mode":"OUTPUT","data":"AP8=","encoding":"BASE64"}},` +
	`"eventMetadata":{"eventId":"5b7d0c1e-8f21-4a3b-9c11-2e7f64a0d913","inferenceId":"order-88123","customAttributes":"tenant=acme","inferenceTime":"2024-05-02T14:07:31Z"},` +
	`"eventVersion":"0","glassbox":{"endpoint":"ep","variant":"v","time":"2024-05-02T14:07:31.123Z","status":200,"latency_us":1500,"method":"POST","path":"/x",` +
	`"input_bytes":11,"output_bytes":2,"input_truncated":true,"error":"boom"}}` + "\n"

// FuzzDecodeRecord checks that DecodeRecord never panics, fails only with
// ErrInvalidRecord, and that whatever it accepts survives AppendRecord and a
// second DecodeRecord unchanged.
func FuzzDecodeRecord(f *testing.F) {
	for _, l := range sagemakerLines(f) {
		f.Add(l)
	}
	f.Add([]byte(glassboxLine))
	f.Add([]byte(`{"captureData":{},"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31.5+02:00"}}`))
	f.Add([]byte(`{"eventMetadata":{"eventId":"\u2028\ud800<>&","inferenceTime":"2024-05-02T14:07:31Z"},"glassbox":null}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := capture.DecodeRecord(line)
		if err != nil {
			if !errors.Is(err, capture.ErrInvalidRecord) {
				t.Fatalf("DecodeRecord error %v does not wrap ErrInvalidRecord", err)
			}
			if rec != nil {
				t.Fatalf("DecodeRecord returned a record with error %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := capture.AppendRecord(&buf, rec); err != nil {
			t.Fatalf("AppendRecord of a decoded record: %v", err)
		}
		enc := buf.Bytes()
		if bytes.Count(enc, []byte("\n")) != 1 || enc[len(enc)-1] != '\n' {
			t.Fatalf("AppendRecord output is not one line: %q", enc)
		}
		again, err := capture.DecodeRecord(enc)
		if err != nil {
			t.Fatalf("DecodeRecord(AppendRecord(rec)) = %v\nline: %s", err, enc)
		}
		if diff := cmp.Diff(rec, again); diff != "" {
			t.Fatalf("record changed by a round trip (-first +second):\n%s", diff)
		}
		var buf2 bytes.Buffer
		if err := capture.AppendRecord(&buf2, again); err != nil {
			t.Fatalf("second AppendRecord: %v", err)
		}
		if !bytes.Equal(enc, buf2.Bytes()) {
			t.Fatalf("encoding is not stable:\n first %s\nsecond %s", enc, buf2.Bytes())
		}
	})
}

// fuzzPayloadLimit is small so that the fuzzer reaches truncation easily.
const fuzzPayloadLimit = 64

// FuzzRecordPayload turns an arbitrary body into a record, writes and reads
// it back, and checks that Payload.Bytes returns the captured body: the
// whole body or, past the limit, a prefix that never splits a rune.
func FuzzRecordPayload(f *testing.F) {
	f.Add("text/csv", []byte("1,2,3\n"), false)
	f.Add("Text/CSV; charset=utf-8", []byte("é,日,😀"), true)
	f.Add("application/json", []byte(`{"a":"<b>&\u2028"}`), false)
	f.Add("application/jsonlines", []byte("{}\n{}\n"), true)
	f.Add("application/json", []byte{'{', 0xff, '}'}, false)
	f.Add("application/octet-stream", []byte{0, 1, 2, 0xff}, false)
	f.Add("", []byte("plain"), true)
	f.Add("text/csv", bytes.Repeat([]byte("日"), 30), false)
	f.Add("text/csv", append(bytes.Repeat([]byte("a"), 63), 0xff), false)
	f.Add("text/csv", append(bytes.Repeat([]byte("a"), 64), 0xff), false)
	f.Add("text/csv\xff", []byte("1"), false)
	f.Fuzz(func(t *testing.T, contentType string, body []byte, strict bool) {
		cts := capture.NewContentTypes([]string{"text/csv"}, []string{"application/json", "application/jsonlines"})
		pol := &capture.Policy{
			Endpoint: "ep", Enabled: true, SamplingPercent: 100, Input: true, Output: true,
			ContentTypes: cts, MaxPayloadBytes: fuzzPayloadLimit, Strict: strict,
		}
		ex := &capture.Exchange{
			Policy: pol, EventID: "e", Variant: "v", Time: t0, Status: 200,
			InputContentType: contentType, Input: body, InputSize: int64(len(body)),
			HasOutput: true, OutputContentType: contentType, Output: body, OutputSize: int64(len(body)),
		}
		var buf bytes.Buffer
		if err := capture.AppendRecord(&buf, ex.Record()); err != nil {
			t.Fatalf("AppendRecord: %v", err)
		}
		rec, err := capture.DecodeRecord(buf.Bytes())
		if err != nil {
			t.Fatalf("DecodeRecord: %v\nline: %s", err, buf.Bytes())
		}
		wantTrunc := len(body) > fuzzPayloadLimit
		switch {
		case strict && rec.Glassbox != nil:
			t.Fatalf("strict record has a glassbox object: %+v", rec.Glassbox)
		case !strict && rec.Glassbox == nil:
			t.Fatalf("record has no glassbox object")
		case !strict:
			g := rec.Glassbox
			if g.InputBytes != int64(len(body)) || g.OutputBytes != int64(len(body)) {
				t.Errorf("input_bytes, output_bytes = %d, %d; want %d", g.InputBytes, g.OutputBytes, len(body))
			}
			if g.InputTruncated != wantTrunc || g.OutputTruncated != wantTrunc {
				t.Errorf("input_truncated, output_truncated = %v, %v; want %v", g.InputTruncated, g.OutputTruncated, wantTrunc)
			}
		}
		for _, p := range []*capture.Payload{rec.CaptureData.EndpointInput, rec.CaptureData.EndpointOutput} {
			if p == nil {
				t.Fatalf("payload missing: %+v", rec.CaptureData)
			}
			if utf8.ValidString(contentType) && p.ObservedContentType != contentType {
				t.Errorf("%s observedContentType = %q, want %q", p.Mode, p.ObservedContentType, contentType)
			}
			got, err := p.Bytes()
			if err != nil {
				t.Fatalf("%s Bytes: %v", p.Mode, err)
			}
			checkCaptured(t, p.Mode, body, got)
			if !utf8.Valid(got) && p.Encoding != capture.EncodingBase64 {
				t.Errorf("%s: invalid UTF-8 captured with encoding %s, want BASE64", p.Mode, p.Encoding)
			}
			if want := cts.Encoding(contentType, got); p.Encoding != want {
				t.Errorf("%s encoding = %s, want %s", p.Mode, p.Encoding, want)
			}
		}
	})
}

// checkCaptured checks that got is what truncation to fuzzPayloadLimit may
// keep of body.
func checkCaptured(t *testing.T, mode string, body, got []byte) {
	t.Helper()
	if len(body) <= fuzzPayloadLimit {
		if !bytes.Equal(got, body) {
			t.Errorf("%s Bytes() = %q, want the whole body %q", mode, got, body)
		}
		return
	}
	if !bytes.HasPrefix(body, got) {
		t.Fatalf("%s Bytes() = %q, not a prefix of %q", mode, got, body)
	}
	n := len(got)
	if n > fuzzPayloadLimit || n < fuzzPayloadLimit-utf8.UTFMax {
		t.Errorf("%s kept %d bytes, want %d-%d", mode, n, fuzzPayloadLimit-utf8.UTFMax, fuzzPayloadLimit)
	}
	if n < fuzzPayloadLimit {
		// Backed off: only to a rune start, only over continuation bytes.
		if !utf8.RuneStart(body[n]) {
			t.Errorf("%s cut at %d, which is not a rune start", mode, n)
		}
		for i := n + 1; i <= fuzzPayloadLimit; i++ {
			if utf8.RuneStart(body[i]) {
				t.Errorf("%s cut at %d although %d is a rune start at or before the limit", mode, n, i)
			}
		}
	}
	if utf8.Valid(body) && !utf8.Valid(got) {
		t.Errorf("%s truncation split a rune: %q", mode, got)
	}
}

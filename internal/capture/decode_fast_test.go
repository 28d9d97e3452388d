package capture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// These tests are internal because decodeFast is unexported; the public
// behaviour (DecodeRecord) is also covered by the external tests.

// fastGlassboxLine has both payloads, every optional field, escapes in the
// JSON payload and a non-ASCII character.
const fastGlassboxLine = `{"captureData":{"endpointInput":{"observedContentType":"application/json","mode":"INPUT","data":"{\"a\":\"<é>\"}","encoding":"JSON"},` +
	`"endpointOutput":{"observedContentType":"application/octet-stream","mode":"OUTPUT","data":"AP8=","encoding":"BASE64"}},` +
	`"eventMetadata":{"eventId":"5b7d0c1e-8f21-4a3b-9c11-2e7f64a0d913","inferenceId":"order-88123","customAttributes":"tenant=acme","inferenceTime":"2024-05-02T14:07:31Z"},` +
	`"eventVersion":"0","glassbox":{"endpoint":"ep","variant":"v","time":"2024-05-02T14:07:31.123Z","status":200,"latency_us":1500,"method":"POST","path":"/x",` +
	`"input_bytes":11,"output_bytes":2,"input_truncated":true,"error":"boom"}}` + "\n"

// fastMinimalLine is the smallest line DecodeRecord accepts.
const fastMinimalLine = `{"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z"}}`

// decodeFastCases are lines the fast decoder must either decode exactly as
// encoding/json does (accept true) or decline (accept false).
var decodeFastCases = []struct {
	name   string
	line   string
	accept bool
}{
	{"glassbox line", fastGlassboxLine, true},
	{"minimal", fastMinimalLine, true},
	{"reordered keys and white space", " \t{ \"eventVersion\" : \"0\" ,\r\n \"eventMetadata\":{ \"inferenceTime\":\"2024-05-02T14:07:31Z\", \"eventId\":\"e\" } ,\"captureData\":{\"endpointOutput\":{\"encoding\":\"CSV\",\"data\":\"0.5\",\"mode\":\"OUTPUT\",\"observedContentType\":\"text/csv\"}} }\n", true},
	{"unknown keys of every kind", `{"x":{"a":[1,-2.5e+3,true,false,null,"s\u00e9\n",{"b":[]}],"c":{}},"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z","y":0},"captureData":{"z":[[]]}}`, true},
	{"nulls", `{"captureData":{"endpointInput":null,"endpointOutput":null},"eventMetadata":{"eventId":"e","inferenceId":null,"inferenceTime":"2024-05-02T14:07:31Z"},"eventVersion":null,"glassbox":null}`, true},
	{"null in glassbox scalars", `{"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z"},"glassbox":{"status":null,"latency_us":null,"input_truncated":null,"endpoint":null}}`, true},
	{"null captureData", `{"captureData":null,"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z"}}`, true},
	{"escapes", `{"eventMetadata":{"eventId":"\"\\\/\b\f\n\r\t\u0041\u00e9\u65e5\ud83d\ude00","inferenceTime":"2024-05-02T14:07:31Z"}}`, true},
	{"lone and mismatched surrogates", `{"eventMetadata":{"eventId":"\ud800x\udc00\ud83d\u0041\ud83d\ud83d\ude00\ud800","inferenceTime":"2024-05-02T14:07:31Z"}}`, true},
	{"invalid UTF-8", "{\"eventMetadata\":{\"eventId\":\"a\xffb\xed\xa0\x80c\xe6\x97\",\"inferenceTime\":\"2024-05-02T14:07:31Z\"}}", true},
	{"valid UTF-8", `{"eventMetadata":{"eventId":"é日😀` + "\u007f" + `","inferenceTime":"2024-05-02T14:07:31Z"}}`, true},
	{"extreme integers", `{"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z"},"glassbox":{"status":-0,"latency_us":9223372036854775807,"input_bytes":-9223372036854775808}}`, true},
	{"empty object", `{}`, true},

	{"repeated key", `{"eventMetadata":{"eventId":"a","eventId":"b","inferenceTime":"2024-05-02T14:07:31Z"}}`, false},
	{"repeated object", `{"glassbox":{"status":1},"glassbox":{"endpoint":"x"}}`, false},
	{"key in other case", `{"EventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z"}}`, false},
	{"escaped key", `{"eventMetadata":{"\u0065ventId":"e","inferenceTime":"2024-05-02T14:07:31Z"}}`, false},
	{"non-ASCII key", `{"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z","ſ":1}}`, false},
	{"fraction in integer", `{"glassbox":{"status":200.0}}`, false},
	{"exponent in integer", `{"glassbox":{"status":2e2}}`, false},
	{"integer overflow", `{"glassbox":{"latency_us":9223372036854775808}}`, false},
	{"string in integer", `{"glassbox":{"status":"200"}}`, false},
	{"number in string", `{"eventVersion":0}`, false},
	{"string in object", `{"captureData":"x"}`, false},
	{"top-level null", `null`, false},
	{"top-level array", `[]`, false},
	{"empty", ``, false},
	{"trailing text", fastMinimalLine + `x`, false},
	{"two objects", fastMinimalLine + fastMinimalLine, false},
	{"trailing comma", `{"eventVersion":"0",}`, false},
	{"missing colon", `{"eventVersion" "0"}`, false},
	{"unterminated string", `{"eventVersion":"0`, false},
	{"control character", "{\"eventVersion\":\"a\tb\"}", false},
	{"bad escape", `{"eventVersion":"\a"}`, false},
	{"short unicode escape", `{"eventVersion":"\u12"}`, false},
	{"leading zero", `{"x":01}`, false},
	{"bare minus", `{"x":-}`, false},
	{"bare fraction", `{"x":1.}`, false},
	{"bare exponent", `{"x":1e}`, false},
	{"bad literal", `{"x":nul}`, false},
	{"deep nesting", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, false},
}

func TestDecodeFast_Cases(t *testing.T) {
	for _, tc := range decodeFastCases {
		t.Run(tc.name, func(t *testing.T) {
			var got Record
			ok := decodeFast([]byte(tc.line), &got)
			if ok != tc.accept {
				t.Fatalf("decodeFast = %v, want %v", ok, tc.accept)
			}
			checkAgainstJSON(t, []byte(tc.line))
		})
	}
}

func TestDecodeFast_SageMakerLines(t *testing.T) {
	lines := seedLines(t)
	if len(lines) == 0 {
		t.Fatal("no capture lines under testdata")
	}
	for i, line := range lines {
		var r Record
		if !decodeFast(line, &r) {
			t.Fatalf("line %d: decodeFast declined a SageMaker line:\n%s", i, line)
		}
		checkAgainstJSON(t, line)
	}
}

func TestDecodeFast_ChurnLine(t *testing.T) {
	line := churnLine()
	var r Record
	if !decodeFast(line, &r) {
		t.Fatalf("decodeFast declined:\n%s", line)
	}
	checkAgainstJSON(t, line)
}

// TestDecodeRecordInto_Reuse decodes lines of different shapes into one
// Record and checks each result against DecodeRecord, so nothing of a
// previous line survives into the next.
func TestDecodeRecordInto_Reuse(t *testing.T) {
	lines := append([][]byte{[]byte(fastGlassboxLine), []byte(fastMinimalLine), []byte(fastGlassboxLine)}, seedLines(t)...)
	lines = append(lines, []byte(fastGlassboxLine), churnLine())
	var r Record
	for i, line := range lines {
		want, err := DecodeRecord(line)
		if err != nil {
			t.Fatalf("line %d: DecodeRecord: %v", i, err)
		}
		if err := DecodeRecordInto(line, &r); err != nil {
			t.Fatalf("line %d: DecodeRecordInto: %v", i, err)
		}
		if diff := cmp.Diff(want, &r); diff != "" {
			t.Fatalf("line %d: DecodeRecordInto differs from DecodeRecord (-want +got):\n%s", i, diff)
		}
	}
}

// TestDecodeRecordInto_SameAsDecodeRecord checks that the two entry points
// reject the same lines with the same messages.
func TestDecodeRecordInto_SameAsDecodeRecord(t *testing.T) {
	bad := []string{
		``,
		`null`,
		`{}`,
		`{"eventMetadata":{"eventId":"e"}}`,
		`{"eventMetadata":{"eventId":"e","inferenceTime":"yesterday"}}`,
		`{"captureData":{"endpointInput":{"mode":"OUTPUT","encoding":"CSV"}},"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z"}}`,
		`{"captureData":{"endpointOutput":{"mode":"OUTPUT","encoding":"XML"}},"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z"}}`,
		`{"glassbox":{"status":1.5},"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z"}}`,
	}
	for _, line := range bad {
		_, want := DecodeRecord([]byte(line))
		r := Record{Glassbox: &Extra{Status: 7}}
		got := DecodeRecordInto([]byte(line), &r)
		if want == nil || got == nil || want.Error() != got.Error() {
			t.Errorf("line %q:\n DecodeRecord error     %v\n DecodeRecordInto error %v", line, want, got)
		}
	}
}

func TestDecodeRecordInto_Allocations(t *testing.T) {
	line := churnLine()
	var r Record
	if err := DecodeRecordInto(line, &r); err != nil {
		t.Fatal(err)
	}
	// The two data strings, eventId and inferenceTime are allocated; the
	// other strings are interned and the payload structs are reused.
	allocs := testing.AllocsPerRun(100, func() {
		if err := DecodeRecordInto(line, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 4 {
		t.Errorf("DecodeRecordInto allocates %v times per churn line, want at most 4", allocs)
	}
}

// checkAgainstJSON fails the test when decodeFast accepts line but decodes
// it differently from json.Unmarshal, or accepts a line json.Unmarshal
// rejects.
func checkAgainstJSON(tb testing.TB, line []byte) {
	tb.Helper()
	var fast, slow Record
	ok := decodeFast(line, &fast)
	err := json.Unmarshal(line, &slow)
	if !ok {
		return
	}
	if err != nil {
		tb.Fatalf("decodeFast accepted a line json.Unmarshal rejects (%v):\n%q", err, line)
	}
	if diff := cmp.Diff(slow, fast); diff != "" {
		tb.Fatalf("decodeFast differs from json.Unmarshal (-json +fast):\n%s\nline: %q", diff, line)
	}
}

// seedLines returns every line of the capture objects under testdata and,
// when the shared datasets are checked out next to the repository, of the
// SageMaker capture objects there.
func seedLines(tb testing.TB) [][]byte {
	tb.Helper()
	var lines [][]byte
	for _, root := range []string{"testdata", "../../../shared/datasets/sagemaker-churn/captured-by-sagemaker"} {
		err := filepath.WalkDir(root, func(path string, de os.DirEntry, err error) error {
			if err != nil || de.IsDir() || !strings.HasSuffix(path, ".jsonl") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for l := range bytes.Lines(data) {
				lines = append(lines, l)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			tb.Fatalf("read seed lines under %s: %v", root, err)
		}
	}
	return lines
}

// churnLine returns a capture line shaped like those of the churn model:
// 69 CSV features in, one score out.
func churnLine() []byte {
	features := make([]string, 69)
	for i := range features {
		switch {
		case i < 10:
			features[i] = fmt.Sprintf("%d.%d", 100+i*7, i)
		default:
			features[i] = fmt.Sprint(i % 2)
		}
	}
	r := &Record{
		CaptureData: CaptureData{
			EndpointInput:  &Payload{ObservedContentType: "text/csv", Mode: ModeInput, Data: strings.Join(features, ","), Encoding: EncodingCSV},
			EndpointOutput: &Payload{ObservedContentType: "text/csv", Mode: ModeOutput, Data: "0.036398", Encoding: EncodingCSV},
		},
		EventMetadata: EventMetadata{EventID: "f04a8538-696c-4648-8064-8b680b2e3318", InferenceTime: "2026-11-22T10:00:00Z"},
		EventVersion:  EventVersion,
	}
	var buf bytes.Buffer
	if err := AppendRecord(&buf, r); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// BenchmarkDecodeRecord compares the decoders on one churn-like line:
// "json" is the previous DecodeRecord (json.Unmarshal plus the checks),
// "DecodeRecord" the current one, "DecodeRecordInto" the hot-loop form.
func BenchmarkDecodeRecord(b *testing.B) {
	line := churnLine()
	b.Run("json", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			var r Record
			if err := json.Unmarshal(line, &r); err != nil {
				b.Fatal(err)
			}
			if err := validateRecord(&r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeRecord", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeRecord(line); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeRecordInto", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		var r Record
		for b.Loop() {
			if err := DecodeRecordInto(line, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeFast", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		b.ReportAllocs()
		for b.Loop() {
			var r Record
			if !decodeFast(line, &r) {
				b.Fatal("declined")
			}
		}
	})
}

// TestSkipPlain checks the eight-bytes-at-a-time scan against the plain
// table for every byte value at every position of a 24-byte string.
func TestSkipPlain(t *testing.T) {
	buf := make([]byte, 24)
	for c := range 256 {
		for pos := range buf {
			for i := range buf {
				buf[i] = 'a'
			}
			buf[pos] = byte(c)
			want := len(buf)
			if !plain[c] {
				want = pos
			}
			for start := 0; start <= pos; start += 3 {
				if got := skipPlain(buf, start); got != want {
					t.Fatalf("byte %#x at %d, start %d: skipPlain = %d, want %d", c, pos, start, got, want)
				}
			}
		}
	}
}

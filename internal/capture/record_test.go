package capture_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

func TestAppendRecord(t *testing.T) {
	tests := []struct {
		name string
		rec  *capture.Record
		want string
	}{
		{
			name: "glassbox record, no html escaping, empty ids omitted",
			rec: &capture.Record{
				CaptureData: capture.CaptureData{
					EndpointInput: &capture.Payload{
						ObservedContentType: "text/csv",
						Mode:                capture.ModeInput,
						Data:                "1,<b>&2\n",
						Encoding:            capture.EncodingCSV,
					},
					EndpointOutput: &capture.Payload{
						ObservedContentType: "application/octet-stream",
						Mode:                capture.ModeOutput,
						Data:                "AAE=",
						Encoding:            capture.EncodingBase64,
					},
				},
				EventMetadata: capture.EventMetadata{
					EventID:       "e-1",
					InferenceTime: "2024-05-02T14:07:31Z",
				},
				EventVersion: capture.EventVersion,
				Glassbox: &capture.Extra{
					Endpoint:      "ep",
					Variant:       "v1",
					Time:          "2024-05-02T14:07:31.5Z",
					Status:        200,
					LatencyMicros: 1500,
					InputBytes:    9,
					OutputBytes:   2,
				},
			},
			want: `{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,<b>&2\n","encoding":"CSV"},` +
				`"endpointOutput":{"observedContentType":"application/octet-stream","mode":"OUTPUT","data":"AAE=","encoding":"BASE64"}},` +
				`"eventMetadata":{"eventId":"e-1","inferenceTime":"2024-05-02T14:07:31Z"},"eventVersion":"0",` +
				`"glassbox":{"endpoint":"ep","variant":"v1","time":"2024-05-02T14:07:31.5Z","status":200,"latency_us":1500,"input_bytes":9,"output_bytes":2}}` + "\n",
		},
		{
			name: "strict record with inferenceId and customAttributes, all extra fields",
			rec: &capture.Record{
				CaptureData: capture.CaptureData{
					EndpointInput: &capture.Payload{
						ObservedContentType: "application/json",
						Mode:                capture.ModeInput,
						Data:                `{"a":"<x>"}`,
						Encoding:            capture.EncodingJSON,
					},
				},
				EventMetadata: capture.EventMetadata{
					EventID:          "e-2",
					InferenceID:      "order-1",
					CustomAttributes: "tenant=a&b",
					InferenceTime:    "2024-05-02T14:07:31Z",
				},
				EventVersion: capture.EventVersion,
			},
			want: `{"captureData":{"endpointInput":{"observedContentType":"application/json","mode":"INPUT","data":"{\"a\":\"<x>\"}","encoding":"JSON"}},` +
				`"eventMetadata":{"eventId":"e-2","inferenceId":"order-1","customAttributes":"tenant=a&b","inferenceTime":"2024-05-02T14:07:31Z"},"eventVersion":"0"}` + "\n",
		},
		{
			name: "glassbox extra with every optional field",
			rec: &capture.Record{
				EventMetadata: capture.EventMetadata{EventID: "e-3", InferenceTime: "2024-05-02T14:07:31Z"},
				EventVersion:  capture.EventVersion,
				Glassbox: &capture.Extra{
					Endpoint: "ep", Variant: "v", Time: "t", Status: 502, LatencyMicros: 7,
					Method: "POST", Path: "/x?a=1&b=<2>", InputBytes: 10, OutputBytes: 20,
					InputTruncated: true, OutputTruncated: true, Error: "upstream down",
				},
			},
			want: `{"captureData":{},"eventMetadata":{"eventId":"e-3","inferenceTime":"2024-05-02T14:07:31Z"},"eventVersion":"0",` +
				`"glassbox":{"endpoint":"ep","variant":"v","time":"t","status":502,"latency_us":7,"method":"POST","path":"/x?a=1&b=<2>",` +
				`"input_bytes":10,"output_bytes":20,"input_truncated":true,"output_truncated":true,"error":"upstream down"}}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			buf.WriteString("previous\n")
			if err := capture.AppendRecord(&buf, tt.rec); err != nil {
				t.Fatalf("AppendRecord: %v", err)
			}
			if diff := cmp.Diff("previous\n"+tt.want, buf.String()); diff != "" {
				t.Errorf("AppendRecord bytes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeRecord_SageMakerRoundTrip(t *testing.T) {
	wantIDs := []string{
		"f04a8538-696c-4648-8064-8b680b2e3318",
		"4f301857-49c9-44d1-b275-ba0ab7767033",
		"9827355a-ac22-40f4-9748-539e03db6c2a",
	}
	wantTimes := []time.Time{
		time.Date(2022, 4, 18, 0, 21, 48, 0, time.UTC),
		time.Date(2022, 4, 18, 0, 21, 49, 0, time.UTC),
		time.Date(2022, 4, 18, 0, 21, 50, 0, time.UTC),
	}
	for i, line := range sagemakerLines(t) {
		rec, err := capture.DecodeRecord(line)
		if err != nil {
			t.Fatalf("line %d: DecodeRecord: %v", i+1, err)
		}
		if got := rec.EventMetadata.EventID; got != wantIDs[i] {
			t.Errorf("line %d: eventId = %q, want %q", i+1, got, wantIDs[i])
		}
		if got, err := rec.Time(); err != nil || !got.Equal(wantTimes[i]) {
			t.Errorf("line %d: Time() = %v, %v; want %v", i+1, got, err, wantTimes[i])
		}
		if rec.Glassbox != nil {
			t.Errorf("line %d: Glassbox = %+v, want nil for a SageMaker line", i+1, rec.Glassbox)
		}
		in, out := rec.CaptureData.EndpointInput, rec.CaptureData.EndpointOutput
		if in == nil || out == nil {
			t.Fatalf("line %d: endpointInput = %v, endpointOutput = %v; want both", i+1, in, out)
		}
		if in.ObservedContentType != "text/csv" || in.Encoding != capture.EncodingCSV || in.Mode != capture.ModeInput {
			t.Errorf("line %d: endpointInput = %+v", i+1, in)
		}
		if out.ObservedContentType != "text/csv; charset=utf-8" || out.Encoding != capture.EncodingCSV || out.Mode != capture.ModeOutput {
			t.Errorf("line %d: endpointOutput = %+v", i+1, out)
		}

		var buf bytes.Buffer
		if err := capture.AppendRecord(&buf, rec); err != nil {
			t.Fatalf("line %d: AppendRecord: %v", i+1, err)
		}
		if diff := cmp.Diff(string(line), buf.String()); diff != "" {
			t.Errorf("line %d: re-encoded bytes differ from SageMaker's (-sagemaker +glassbox):\n%s", i+1, diff)
		}
	}
}

func TestDecodeRecord_WithoutNewline(t *testing.T) {
	line := sagemakerLines(t)[0]
	withNL, err := capture.DecodeRecord(line)
	if err != nil {
		t.Fatalf("DecodeRecord(with newline): %v", err)
	}
	withoutNL, err := capture.DecodeRecord(bytes.TrimSuffix(line, []byte("\n")))
	if err != nil {
		t.Fatalf("DecodeRecord(without newline): %v", err)
	}
	if diff := cmp.Diff(withNL, withoutNL); diff != "" {
		t.Errorf("records differ (-with +without):\n%s", diff)
	}
}

func TestDecodeRecord_Glassbox(t *testing.T) {
	line := `{"captureData":{"endpointInput":{"observedContentType":"application/json","mode":"INPUT","data":"{\"a\":1}","encoding":"JSON"}},` +
		`"eventMetadata":{"eventId":"e-1","inferenceId":"i-1","customAttributes":"c","inferenceTime":"2024-05-02T14:07:31Z"},"eventVersion":"0",` +
		`"glassbox":{"endpoint":"ep","variant":"v","time":"2024-05-02T14:07:31.123456789Z","status":200,"latency_us":42,"input_bytes":7,"output_bytes":0,"input_truncated":true}}` + "\n"
	want := &capture.Record{
		CaptureData: capture.CaptureData{EndpointInput: &capture.Payload{
			ObservedContentType: "application/json", Mode: capture.ModeInput, Data: `{"a":1}`, Encoding: capture.EncodingJSON,
		}},
		EventMetadata: capture.EventMetadata{EventID: "e-1", InferenceID: "i-1", CustomAttributes: "c", InferenceTime: "2024-05-02T14:07:31Z"},
		EventVersion:  "0",
		Glassbox: &capture.Extra{
			Endpoint: "ep", Variant: "v", Time: "2024-05-02T14:07:31.123456789Z", Status: 200, LatencyMicros: 42,
			InputBytes: 7, InputTruncated: true,
		},
	}
	got, err := capture.DecodeRecord([]byte(line))
	if err != nil {
		t.Fatalf("DecodeRecord: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeRecord mismatch (-want +got):\n%s", diff)
	}
	var buf bytes.Buffer
	if err := capture.AppendRecord(&buf, got); err != nil {
		t.Fatalf("AppendRecord: %v", err)
	}
	if buf.String() != line {
		t.Errorf("re-encoded line:\n got %s\nwant %s", buf.String(), line)
	}
}

func TestDecodeRecord_Errors(t *testing.T) {
	const meta = `"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31Z"},"eventVersion":"0"`
	tests := []struct {
		name    string
		line    string
		wantMsg string // a substring of the error message
	}{
		{name: "not JSON", line: `not json`},
		{name: "empty line", line: ``},
		{name: "truncated JSON", line: `{"captureData":{`},
		{name: "JSON array", line: `[1,2]`},
		{name: "JSON null", line: `null`, wantMsg: "eventId"},
		{name: "missing eventId", line: `{"captureData":{},"eventMetadata":{"inferenceTime":"2024-05-02T14:07:31Z"},"eventVersion":"0"}`, wantMsg: "eventId"},
		{name: "empty eventId", line: `{"captureData":{},"eventMetadata":{"eventId":"","inferenceTime":"2024-05-02T14:07:31Z"}}`, wantMsg: "eventId"},
		{name: "missing inferenceTime", line: `{"captureData":{},"eventMetadata":{"eventId":"e"}}`, wantMsg: "inferenceTime"},
		{name: "bad inferenceTime", line: `{"captureData":{},"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02 14:07:31"}}`, wantMsg: "inferenceTime"},
		{name: "inferenceTime without zone", line: `{"captureData":{},"eventMetadata":{"eventId":"e","inferenceTime":"2024-05-02T14:07:31"}}`, wantMsg: "inferenceTime"},
		{name: "eventId not a string", line: `{"captureData":{},"eventMetadata":{"eventId":7,"inferenceTime":"2024-05-02T14:07:31Z"}}`},
		{
			name:    "input with OUTPUT mode",
			line:    `{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"OUTPUT","data":"1","encoding":"CSV"}},` + meta + `}`,
			wantMsg: "endpointInput.mode",
		},
		{
			name:    "output with INPUT mode",
			line:    `{"captureData":{"endpointOutput":{"observedContentType":"text/csv","mode":"INPUT","data":"1","encoding":"CSV"}},` + meta + `}`,
			wantMsg: "endpointOutput.mode",
		},
		{
			name:    "lower-case mode",
			line:    `{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"input","data":"1","encoding":"CSV"}},` + meta + `}`,
			wantMsg: "endpointInput.mode",
		},
		{
			name:    "missing mode",
			line:    `{"captureData":{"endpointInput":{"observedContentType":"text/csv","data":"1","encoding":"CSV"}},` + meta + `}`,
			wantMsg: "endpointInput.mode",
		},
		{
			name:    "unknown input encoding",
			line:    `{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1","encoding":"UTF8"}},` + meta + `}`,
			wantMsg: "endpointInput.encoding",
		},
		{
			name:    "unknown output encoding",
			line:    `{"captureData":{"endpointOutput":{"observedContentType":"text/csv","mode":"OUTPUT","data":"1","encoding":"csv"}},` + meta + `}`,
			wantMsg: "endpointOutput.encoding",
		},
		{
			name:    "missing encoding",
			line:    `{"captureData":{"endpointOutput":{"observedContentType":"text/csv","mode":"OUTPUT","data":"1"}},` + meta + `}`,
			wantMsg: "endpointOutput.encoding",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := capture.DecodeRecord([]byte(tt.line))
			if !errors.Is(err, capture.ErrInvalidRecord) {
				t.Fatalf("DecodeRecord(%q) = %+v, %v; want error wrapping ErrInvalidRecord", tt.line, rec, err)
			}
			if rec != nil {
				t.Errorf("DecodeRecord(%q) record = %+v, want nil on error", tt.line, rec)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("DecodeRecord(%q) error = %q, want it to mention %q", tt.line, err, tt.wantMsg)
			}
		})
	}
}

func TestRecord_Time(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Time
		wantErr bool
	}{
		{name: "sagemaker second precision", in: "2022-04-18T00:21:48Z", want: time.Date(2022, 4, 18, 0, 21, 48, 0, time.UTC)},
		{name: "rfc3339 nano", in: "2022-04-18T00:21:48.123456789Z", want: time.Date(2022, 4, 18, 0, 21, 48, 123456789, time.UTC)},
		{name: "offset", in: "2022-04-18T02:21:48+02:00", want: time.Date(2022, 4, 18, 0, 21, 48, 0, time.UTC)},
		{name: "empty", in: "", wantErr: true},
		{name: "date only", in: "2022-04-18", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &capture.Record{EventMetadata: capture.EventMetadata{InferenceTime: tt.in}}
			got, err := r.Time()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Time() error = %v, wantErr %v", err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("Time() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPayload_Bytes(t *testing.T) {
	tests := []struct {
		name    string
		p       capture.Payload
		want    []byte
		wantErr bool
	}{
		{name: "CSV", p: capture.Payload{Data: "1,2,3\n", Encoding: capture.EncodingCSV}, want: []byte("1,2,3\n")},
		{name: "JSON", p: capture.Payload{Data: `{"a":"é"}`, Encoding: capture.EncodingJSON}, want: []byte(`{"a":"é"}`)},
		{name: "empty CSV", p: capture.Payload{Data: "", Encoding: capture.EncodingCSV}, want: []byte{}},
		{name: "BASE64", p: capture.Payload{Data: "AP/+AQ==", Encoding: capture.EncodingBase64}, want: []byte{0x00, 0xff, 0xfe, 0x01}},
		{name: "BASE64 empty", p: capture.Payload{Data: "", Encoding: capture.EncodingBase64}, want: []byte{}},
		{name: "bad base64 alphabet", p: capture.Payload{Data: "!!!!", Encoding: capture.EncodingBase64}, wantErr: true},
		{name: "bad base64 padding", p: capture.Payload{Data: "AAE", Encoding: capture.EncodingBase64}, wantErr: true},
		{name: "url-safe base64 rejected", p: capture.Payload{Data: "AP_-AQ==", Encoding: capture.EncodingBase64}, wantErr: true},
		{name: "unknown encoding", p: capture.Payload{Data: "x", Encoding: "UTF8"}, wantErr: true},
		{name: "missing encoding", p: capture.Payload{Data: "x"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Bytes()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Bytes() = %q, %v; wantErr %v", got, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Bytes() = %q, want %q", got, tt.want)
			}
		})
	}
}

package capture_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

func TestExchange_Record(t *testing.T) {
	cts := capture.NewContentTypes([]string{"text/csv"}, []string{"application/json"})
	// 14:07:31.987654321 at UTC+2 is 12:07:31.987654321 UTC.
	plus2 := time.FixedZone("UTC+2", 2*60*60)
	at := time.Date(2024, 5, 2, 14, 7, 31, 987654321, plus2)
	base := func() capture.Exchange {
		return capture.Exchange{
			EventID:           "e-1",
			Variant:           "v1",
			Time:              at,
			Latency:           1500*time.Microsecond + 999*time.Nanosecond,
			Status:            200,
			InputContentType:  "text/csv",
			Input:             []byte("1,2\n"),
			InputSize:         4,
			HasOutput:         true,
			OutputContentType: "application/json",
			Output:            []byte(`{"p":1}`),
			OutputSize:        7,
		}
	}
	input := &capture.Payload{ObservedContentType: "text/csv", Mode: capture.ModeInput, Data: "1,2\n", Encoding: capture.EncodingCSV}
	output := &capture.Payload{ObservedContentType: "application/json", Mode: capture.ModeOutput, Data: `{"p":1}`, Encoding: capture.EncodingJSON}
	meta := capture.EventMetadata{EventID: "e-1", InferenceTime: "2024-05-02T12:07:31Z"}
	extra := func(mod func(*capture.Extra)) *capture.Extra {
		e := &capture.Extra{
			Endpoint: "ep", Variant: "v1", Time: "2024-05-02T12:07:31.987654321Z",
			Status: 200, LatencyMicros: 1500, InputBytes: 4, OutputBytes: 7,
		}
		if mod != nil {
			mod(e)
		}
		return e
	}

	tests := []struct {
		name   string
		policy capture.Policy
		mod    func(*capture.Exchange)
		want   *capture.Record
	}{
		{
			name:   "input and output",
			policy: capture.Policy{Endpoint: "ep", Input: true, Output: true, ContentTypes: cts},
			want: &capture.Record{
				CaptureData:   capture.CaptureData{EndpointInput: input, EndpointOutput: output},
				EventMetadata: meta, EventVersion: "0", Glassbox: extra(nil),
			},
		},
		{
			name:   "input only",
			policy: capture.Policy{Endpoint: "ep", Input: true, ContentTypes: cts},
			want: &capture.Record{
				CaptureData:   capture.CaptureData{EndpointInput: input},
				EventMetadata: meta, EventVersion: "0", Glassbox: extra(nil),
			},
		},
		{
			name:   "output only",
			policy: capture.Policy{Endpoint: "ep", Output: true, ContentTypes: cts},
			want: &capture.Record{
				CaptureData:   capture.CaptureData{EndpointOutput: output},
				EventMetadata: meta, EventVersion: "0", Glassbox: extra(nil),
			},
		},
		{
			name:   "no output from the model",
			policy: capture.Policy{Endpoint: "ep", Input: true, Output: true, ContentTypes: cts},
			mod: func(e *capture.Exchange) {
				e.HasOutput, e.Output, e.OutputSize, e.OutputContentType = false, nil, 0, ""
				e.Status, e.Error = 502, "upstream down"
			},
			want: &capture.Record{
				CaptureData:   capture.CaptureData{EndpointInput: input},
				EventMetadata: meta, EventVersion: "0",
				Glassbox: extra(func(x *capture.Extra) { x.Status, x.OutputBytes, x.Error = 502, 0, "upstream down" }),
			},
		},
		{
			name:   "strict has no glassbox object",
			policy: capture.Policy{Endpoint: "ep", Input: true, Output: true, ContentTypes: cts, Strict: true},
			want: &capture.Record{
				CaptureData:   capture.CaptureData{EndpointInput: input, EndpointOutput: output},
				EventMetadata: meta, EventVersion: "0",
			},
		},
		{
			name:   "ids, attributes and pass-through fields",
			policy: capture.Policy{Endpoint: "ep", Input: true, Output: true, ContentTypes: cts},
			mod: func(e *capture.Exchange) {
				e.InferenceID, e.CustomAttributes, e.Method, e.Path = "inf-9", "tenant=acme", "POST", "/ping"
			},
			want: &capture.Record{
				CaptureData: capture.CaptureData{EndpointInput: input, EndpointOutput: output},
				EventMetadata: capture.EventMetadata{
					EventID: "e-1", InferenceID: "inf-9", CustomAttributes: "tenant=acme", InferenceTime: "2024-05-02T12:07:31Z",
				},
				EventVersion: "0",
				Glassbox:     extra(func(x *capture.Extra) { x.Method, x.Path = "POST", "/ping" }),
			},
		},
		{
			name:   "truncated by MaxPayloadBytes",
			policy: capture.Policy{Endpoint: "ep", Input: true, Output: true, ContentTypes: cts, MaxPayloadBytes: 3},
			mod: func(e *capture.Exchange) {
				e.Input, e.InputSize = []byte("1,2,3,4"), 7
				e.Output, e.OutputSize = []byte(`"日"`), 5 // limit 3 falls inside 日
			},
			want: &capture.Record{
				CaptureData: capture.CaptureData{
					EndpointInput:  &capture.Payload{ObservedContentType: "text/csv", Mode: capture.ModeInput, Data: "1,2", Encoding: capture.EncodingCSV},
					EndpointOutput: &capture.Payload{ObservedContentType: "application/json", Mode: capture.ModeOutput, Data: `"`, Encoding: capture.EncodingJSON},
				},
				EventMetadata: meta, EventVersion: "0",
				Glassbox: extra(func(x *capture.Extra) {
					x.InputBytes, x.OutputBytes, x.InputTruncated, x.OutputTruncated = 7, 5, true, true
				}),
			},
		},
		{
			name:   "gateway kept less than the full body",
			policy: capture.Policy{Endpoint: "ep", Input: true, Output: true, ContentTypes: cts},
			mod:    func(e *capture.Exchange) { e.InputSize, e.OutputSize = 4000, 7 },
			want: &capture.Record{
				CaptureData:   capture.CaptureData{EndpointInput: input, EndpointOutput: output},
				EventMetadata: meta, EventVersion: "0",
				Glassbox: extra(func(x *capture.Extra) { x.InputBytes, x.InputTruncated = 4000, true }),
			},
		},
		{
			name:   "exactly at MaxPayloadBytes is not truncated",
			policy: capture.Policy{Endpoint: "ep", Input: true, Output: true, ContentTypes: cts, MaxPayloadBytes: 7},
			want: &capture.Record{
				CaptureData:   capture.CaptureData{EndpointInput: input, EndpointOutput: output},
				EventMetadata: meta, EventVersion: "0", Glassbox: extra(nil),
			},
		},
		{
			name:   "binary output is base64",
			policy: capture.Policy{Endpoint: "ep", Input: true, Output: true, ContentTypes: cts},
			mod: func(e *capture.Exchange) {
				e.OutputContentType, e.Output, e.OutputSize = "image/png", []byte{0x89, 'P', 'N', 'G'}, 4
			},
			want: &capture.Record{
				CaptureData: capture.CaptureData{
					EndpointInput: input,
					EndpointOutput: &capture.Payload{
						ObservedContentType: "image/png", Mode: capture.ModeOutput,
						Data: base64.StdEncoding.EncodeToString([]byte{0x89, 'P', 'N', 'G'}), Encoding: capture.EncodingBase64,
					},
				},
				EventMetadata: meta, EventVersion: "0",
				Glassbox: extra(func(x *capture.Extra) { x.OutputBytes = 4 }),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := base()
			pol := tt.policy
			ex.Policy = &pol
			if tt.mod != nil {
				tt.mod(&ex)
			}
			got := ex.Record()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Record() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExchange_Record_DefaultPayloadLimit(t *testing.T) {
	pol := &capture.Policy{Endpoint: "ep", Input: true, ContentTypes: capture.NewContentTypes([]string{"text/csv"}, nil)}
	body := []byte(strings.Repeat("x", capture.DefaultMaxPayloadBytes+1))
	ex := &capture.Exchange{Policy: pol, EventID: "e", Time: time.Unix(0, 0), InputContentType: "text/csv", Input: body, InputSize: int64(len(body))}
	rec := ex.Record()
	if got := rec.CaptureData.EndpointInput.Encoding; got != capture.EncodingCSV {
		t.Fatalf("encoding = %q, want CSV", got)
	}
	if got := len(rec.CaptureData.EndpointInput.Data); got != capture.DefaultMaxPayloadBytes {
		t.Errorf("captured %d bytes, want DefaultMaxPayloadBytes = %d", got, capture.DefaultMaxPayloadBytes)
	}
	if !rec.Glassbox.InputTruncated {
		t.Errorf("InputTruncated = false, want true")
	}
}

func TestExchange_Record_InferenceTime(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{name: "utc", at: time.Date(2022, 4, 18, 0, 21, 48, 0, time.UTC), want: "2022-04-18T00:21:48Z"},
		{name: "fraction is cut, not rounded", at: time.Date(2022, 4, 18, 0, 21, 48, 999999999, time.UTC), want: "2022-04-18T00:21:48Z"},
		{name: "east of utc crosses the day", at: time.Date(2022, 4, 18, 1, 30, 0, 0, time.FixedZone("UTC+5", 5*3600)), want: "2022-04-17T20:30:00Z"},
		{name: "west of utc", at: time.Date(2022, 12, 31, 23, 59, 59, 500, time.FixedZone("UTC-8", -8*3600)), want: "2023-01-01T07:59:59Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &capture.Exchange{Policy: &capture.Policy{Strict: true}, EventID: "e", Time: tt.at}
			if got := ex.Record().EventMetadata.InferenceTime; got != tt.want {
				t.Errorf("inferenceTime = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPolicy_PayloadLimit(t *testing.T) {
	tests := []struct {
		name string
		max  int
		want int
	}{
		{name: "zero is default", max: 0, want: capture.DefaultMaxPayloadBytes},
		{name: "negative is default", max: -5, want: capture.DefaultMaxPayloadBytes},
		{name: "set", max: 1024, want: 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &capture.Policy{MaxPayloadBytes: tt.max}
			if got := p.PayloadLimit(); got != tt.want {
				t.Errorf("PayloadLimit() = %d, want %d", got, tt.want)
			}
		})
	}
}

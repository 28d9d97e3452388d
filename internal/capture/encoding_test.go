package capture_test

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

func TestContentTypes_Encoding(t *testing.T) {
	configured := capture.NewContentTypes(
		[]string{"text/csv"},
		[]string{"application/json", "Application/JSONLines; charset=utf-8"},
	)
	invalidUTF8 := []byte{'1', ',', 0xff, 0xfe}
	tests := []struct {
		name        string
		ct          capture.ContentTypes
		contentType string
		body        []byte
		want        string
	}{
		{name: "csv", ct: configured, contentType: "text/csv", body: []byte("1,2\n"), want: capture.EncodingCSV},
		{name: "csv with charset", ct: configured, contentType: "text/csv; charset=utf-8", body: []byte("1,2"), want: capture.EncodingCSV},
		{name: "csv upper case", ct: configured, contentType: "Text/CSV", body: []byte("1,2"), want: capture.EncodingCSV},
		{name: "csv with spaces", ct: configured, contentType: "  text/csv ;charset=utf-8", body: []byte("1,2"), want: capture.EncodingCSV},
		{name: "csv empty body", ct: configured, contentType: "text/csv", body: nil, want: capture.EncodingCSV},
		{name: "csv non-ascii utf-8", ct: configured, contentType: "text/csv", body: []byte("é,日本"), want: capture.EncodingCSV},
		{name: "json", ct: configured, contentType: "application/json", body: []byte(`{"a":1}`), want: capture.EncodingJSON},
		{name: "jsonlines configured with case and parameters", ct: configured, contentType: "application/jsonlines", body: []byte("{}\n{}\n"), want: capture.EncodingJSON},
		{name: "unlisted type", ct: configured, contentType: "text/html", body: []byte("<p>"), want: capture.EncodingBase64},
		{name: "prefix of listed type", ct: configured, contentType: "text/cs", body: []byte("1"), want: capture.EncodingBase64},
		{name: "listed type as prefix", ct: configured, contentType: "text/csvx", body: []byte("1"), want: capture.EncodingBase64},
		{name: "empty content type", ct: configured, contentType: "", body: []byte("1,2"), want: capture.EncodingBase64},
		{name: "csv invalid utf-8", ct: configured, contentType: "text/csv", body: invalidUTF8, want: capture.EncodingBase64},
		{name: "json invalid utf-8", ct: configured, contentType: "application/json", body: []byte{'"', 0xc3, '"'}, want: capture.EncodingBase64},
		{name: "no types configured csv", ct: capture.NewContentTypes(nil, nil), contentType: "text/csv", body: []byte("1,2"), want: capture.EncodingBase64},
		{name: "no types configured json", ct: capture.NewContentTypes(nil, nil), contentType: "application/json", body: []byte("{}"), want: capture.EncodingBase64},
		{name: "zero value ContentTypes", ct: capture.ContentTypes{}, contentType: "text/csv", body: []byte("1"), want: capture.EncodingBase64},
		{name: "only json configured, csv body", ct: capture.NewContentTypes(nil, []string{"application/json"}), contentType: "text/csv", body: []byte("1"), want: capture.EncodingBase64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ct.Encoding(tt.contentType, tt.body); got != tt.want {
				t.Errorf("Encoding(%q, %q) = %q, want %q", tt.contentType, tt.body, got, tt.want)
			}
		})
	}
}

func TestContentTypes_NewPayload(t *testing.T) {
	ct := capture.NewContentTypes([]string{"text/csv"}, []string{"application/json"})
	bin := []byte{0x00, 0xff, 0x10}
	tests := []struct {
		name        string
		mode        string
		contentType string
		body        []byte
		want        *capture.Payload
	}{
		{
			name: "csv keeps raw content type and trailing newline", mode: capture.ModeInput,
			contentType: "Text/CSV; charset=UTF-8", body: []byte("1,2\n"),
			want: &capture.Payload{ObservedContentType: "Text/CSV; charset=UTF-8", Mode: capture.ModeInput, Data: "1,2\n", Encoding: capture.EncodingCSV},
		},
		{
			name: "json is embedded as a string", mode: capture.ModeOutput,
			contentType: "application/json", body: []byte(`{"p":0.5}`),
			want: &capture.Payload{ObservedContentType: "application/json", Mode: capture.ModeOutput, Data: `{"p":0.5}`, Encoding: capture.EncodingJSON},
		},
		{
			name: "binary is base64", mode: capture.ModeInput,
			contentType: "application/octet-stream", body: bin,
			want: &capture.Payload{ObservedContentType: "application/octet-stream", Mode: capture.ModeInput, Data: base64.StdEncoding.EncodeToString(bin), Encoding: capture.EncodingBase64},
		},
		{
			name: "empty body base64", mode: capture.ModeOutput,
			contentType: "", body: nil,
			want: &capture.Payload{ObservedContentType: "", Mode: capture.ModeOutput, Data: "", Encoding: capture.EncodingBase64},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ct.NewPayload(tt.mode, tt.contentType, tt.body)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewPayload mismatch (-want +got):\n%s", diff)
			}
			b, err := got.Bytes()
			if err != nil {
				t.Fatalf("Bytes: %v", err)
			}
			if string(b) != string(tt.body) {
				t.Errorf("Bytes() = %q, want the original body %q", b, tt.body)
			}
		})
	}
}

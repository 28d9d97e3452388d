package capture

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Encodings of a captured payload, as SageMaker names them.
const (
	EncodingCSV    = "CSV"
	EncodingJSON   = "JSON"
	EncodingBase64 = "BASE64"
)

// Modes of a captured payload, as SageMaker names them.
const (
	ModeInput  = "INPUT"
	ModeOutput = "OUTPUT"
)

// EventVersion is the only eventVersion SageMaker writes.
const EventVersion = "0"

// InferenceTimeLayout formats eventMetadata.inferenceTime: UTC, second
// precision, "Z" suffix, exactly as SageMaker writes it.
const InferenceTimeLayout = "2006-01-02T15:04:05Z"

// Record is one line of a capture object: SageMaker's Data Capture record
// plus, unless the endpoint captures in strict mode, one extra top-level
// "glassbox" object that SageMaker's readers ignore. Field order matches the
// order SageMaker writes.
type Record struct {
	CaptureData   CaptureData   `json:"captureData"`
	EventMetadata EventMetadata `json:"eventMetadata"`
	EventVersion  string        `json:"eventVersion"`
	Glassbox      *Extra        `json:"glassbox,omitempty"`
}

// CaptureData holds the request and response payloads; each is present only
// when the endpoint's capture modes include it.
type CaptureData struct {
	EndpointInput  *Payload `json:"endpointInput,omitempty"`
	EndpointOutput *Payload `json:"endpointOutput,omitempty"`
}

// Payload is one captured body.
type Payload struct {
	// ObservedContentType is the raw Content-Type header, parameters included.
	ObservedContentType string `json:"observedContentType"`
	// Mode is ModeInput or ModeOutput.
	Mode string `json:"mode"`
	// Data is the body as text (CSV, JSON) or base64 of the raw bytes.
	Data string `json:"data"`
	// Encoding is EncodingCSV, EncodingJSON or EncodingBase64.
	Encoding string `json:"encoding"`
}

// EventMetadata identifies the exchange.
type EventMetadata struct {
	EventID          string `json:"eventId"`
	InferenceID      string `json:"inferenceId,omitempty"`
	CustomAttributes string `json:"customAttributes,omitempty"`
	InferenceTime    string `json:"inferenceTime"`
}

// Extra carries Glassbox's own facts about an exchange. Its JSON keys are
// snake_case, unlike SageMaker's, to make plain which keys are whose.
type Extra struct {
	Endpoint string `json:"endpoint"`
	Variant  string `json:"variant"`
	// Time is the invocation time with nanosecond precision (RFC 3339).
	Time string `json:"time"`
	// Status is the HTTP status the client received.
	Status int `json:"status"`
	// LatencyMicros is the time from receiving the request to the end of the
	// response body, in microseconds.
	LatencyMicros int64 `json:"latency_us"`
	// Method and Path are set for pass-through (proxy route) exchanges.
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// InputBytes and OutputBytes are the full body sizes, before truncation.
	InputBytes  int64 `json:"input_bytes"`
	OutputBytes int64 `json:"output_bytes"`
	// InputTruncated and OutputTruncated report that the captured data holds
	// only the first max_payload_bytes of the body.
	InputTruncated  bool `json:"input_truncated,omitempty"`
	OutputTruncated bool `json:"output_truncated,omitempty"`
	// Error describes a failure of the exchange (upstream down, timeout...).
	Error string `json:"error,omitempty"`
	// Redactions lists the redaction rules that changed the payloads, by
	// id ("email:hash", "json_path:$.applicant.ssn:drop"); never a value.
	Redactions []string `json:"redactions,omitempty"`
	// PayloadStripped reports that the retention sweeper emptied the
	// payloads' data after capture.payload_retention_days (retention.go).
	PayloadStripped bool `json:"payload_stripped,omitempty"`
}

// Time parses eventMetadata.inferenceTime. It accepts SageMaker's
// second-precision layout and any RFC 3339 time.
func (r *Record) Time() (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, r.EventMetadata.InferenceTime)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse inferenceTime %q: %w", r.EventMetadata.InferenceTime, err)
	}
	return t, nil
}

// Bytes returns the payload's original bytes, decoding base64 when needed.
func (p *Payload) Bytes() ([]byte, error) {
	switch p.Encoding {
	case EncodingBase64:
		b, err := base64.StdEncoding.DecodeString(p.Data)
		if err != nil {
			return nil, fmt.Errorf("decode base64 payload: %w", err)
		}
		return b, nil
	case EncodingCSV, EncodingJSON:
		return []byte(p.Data), nil
	default:
		return nil, fmt.Errorf("unknown payload encoding %q", p.Encoding)
	}
}

// ErrInvalidRecord is wrapped by DecodeRecord for lines that are not capture
// records.
var ErrInvalidRecord = errors.New("invalid capture record")

// AppendRecord appends the JSON encoding of r and a newline to dst.
func AppendRecord(dst *bytes.Buffer, r *Record) error {
	enc := json.NewEncoder(dst)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode capture record: %w", err)
	}
	return nil
}

// DecodeRecord parses one capture line (with or without its newline). It
// checks the parts every reader relies on: an eventId, a parseable
// inferenceTime, and payloads with a known mode and encoding.
func DecodeRecord(line []byte) (*Record, error) {
	r := new(Record)
	if err := DecodeRecordInto(line, r); err != nil {
		return nil, err
	}
	return r, nil
}

package capture

import "time"

// Policy is an endpoint's capture settings, as the pipeline and the gateway
// use them. cmd/glassbox builds one per endpoint from the config file.
// A Policy is read-only once built and may be shared between goroutines.
type Policy struct {
	// Endpoint is the endpoint's name; it is the first key segment.
	Endpoint string
	// Enabled switches capture on.
	Enabled bool
	// SamplingPercent is the share of requests captured, 0–100.
	SamplingPercent float64
	// Input and Output select the payloads a record holds.
	Input, Output bool
	// ContentTypes decides each payload's encoding.
	ContentTypes ContentTypes
	// MaxPayloadBytes caps each captured body; longer bodies are truncated
	// and marked so. Zero or less means DefaultMaxPayloadBytes.
	MaxPayloadBytes int
	// Strict leaves Glassbox's extra object out of records.
	Strict bool
	// MaxObjectAge rolls an open capture object at least this often.
	MaxObjectAge time.Duration
	// MaxObjectBytes rolls an open capture object when it reaches this size.
	MaxObjectBytes int64
	// Sync holds the response until the record is fsynced in the spool.
	Sync bool
	// RejectWhenFull refuses (503) exchanges that would be captured while
	// the spool is full, instead of serving them and dropping the record.
	RejectWhenFull bool
	// Redactor, when set, redacts each payload in the spool's writer before
	// the record is encoded, so clear values never reach the spool.
	Redactor Redactor
}

// Defaults for Policy fields left at zero.
const (
	DefaultMaxPayloadBytes = 6 << 20
	DefaultMaxObjectAge    = 60 * time.Second
	DefaultMaxObjectBytes  = 64 << 20
)

// PayloadLimit returns the effective MaxPayloadBytes.
func (p *Policy) PayloadLimit() int {
	if p.MaxPayloadBytes <= 0 {
		return DefaultMaxPayloadBytes
	}
	return p.MaxPayloadBytes
}

// Exchange is one sampled request/response pair as the gateway saw it,
// before it is turned into a Record. The pipeline owns an Exchange once it
// is submitted.
type Exchange struct {
	Policy *Policy

	EventID          string
	InferenceID      string
	CustomAttributes string
	Variant          string
	// Time is when the gateway received the request.
	Time time.Time
	// Latency runs from receiving the request to the end of the response.
	Latency time.Duration
	// Status is the HTTP status the client received.
	Status int
	// Method and Path are set for pass-through exchanges only.
	Method, Path string

	InputContentType string
	Input            []byte
	InputSize        int64 // full body size; Input may be shorter

	// HasOutput is false when no response came from the model (upstream
	// down, timeout); the record then has no endpointOutput.
	HasOutput         bool
	OutputContentType string
	Output            []byte
	OutputSize        int64

	// Error describes a failed exchange.
	Error string

	// Release, when set, is called once the pipeline no longer needs Input
	// and Output, so the gateway can reuse their buffers.
	Release func()
}

// size is the memory an exchange holds while queued.
func (e *Exchange) size() int64 { return int64(len(e.Input) + len(e.Output) + 512) }

// Record turns the exchange into its capture line.
func (e *Exchange) Record() *Record {
	p := e.Policy
	r := &Record{
		EventMetadata: EventMetadata{
			EventID:          e.EventID,
			InferenceID:      e.InferenceID,
			CustomAttributes: e.CustomAttributes,
			InferenceTime:    e.Time.UTC().Format(InferenceTimeLayout),
		},
		EventVersion: EventVersion,
	}
	limit := p.PayloadLimit()
	var inTrunc, outTrunc bool
	if p.Input {
		var in []byte
		in, inTrunc = truncate(e.Input, limit)
		inTrunc = inTrunc || int64(len(e.Input)) < e.InputSize
		r.CaptureData.EndpointInput = p.ContentTypes.NewPayload(ModeInput, e.InputContentType, in)
	}
	if p.Output && e.HasOutput {
		var out []byte
		out, outTrunc = truncate(e.Output, limit)
		outTrunc = outTrunc || int64(len(e.Output)) < e.OutputSize
		r.CaptureData.EndpointOutput = p.ContentTypes.NewPayload(ModeOutput, e.OutputContentType, out)
	}
	if !p.Strict {
		r.Glassbox = &Extra{
			Endpoint:        p.Endpoint,
			Variant:         e.Variant,
			Time:            e.Time.UTC().Format(time.RFC3339Nano),
			Status:          e.Status,
			LatencyMicros:   e.Latency.Microseconds(),
			Method:          e.Method,
			Path:            e.Path,
			InputBytes:      e.InputSize,
			OutputBytes:     e.OutputSize,
			InputTruncated:  inTrunc,
			OutputTruncated: outTrunc,
			Error:           e.Error,
		}
	}
	return r
}

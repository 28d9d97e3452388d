package config

import "time"

// Every default lives in this file. Parse decodes the YAML onto Default(), and
// decodes each element of endpoints onto DefaultEndpoint() and each element of
// variants onto DefaultVariant(), so a key left out keeps its default while an
// explicit value (even 0, false or an empty list) replaces it.

// defaultSamplingPercent is also what Capture.Sampling returns for nil.
const defaultSamplingPercent = 100

// Default returns the configuration Parse starts from: every top-level
// default, and no endpoints. Each call returns a new value.
func Default() *Config {
	return &Config{
		Server: Server{
			Listen:            "127.0.0.1:8080",
			ReadHeaderTimeout: Duration(10 * time.Second),
			IdleTimeout:       Duration(120 * time.Second),
			ShutdownTimeout:   Duration(30 * time.Second),
			MaxBodyBytes:      6 * MiB,
		},
		Storage: Storage{
			Blob:            "file://./glassbox-data",
			Spool:           "./glassbox-spool",
			QueueMaxRecords: 10000,
			QueueMaxBytes:   256 * MiB,
		},
		Log: Log{
			Level:  "info",
			Format: "text",
		},
		Endpoints: nil,
	}
}

// DefaultEndpoint returns the values each element of endpoints starts from
// before its YAML is decoded onto it. It has no name and no variants, so it
// is not valid on its own. Each call returns a new value.
func DefaultEndpoint() Endpoint {
	enabled := true
	sampling := float64(defaultSamplingPercent)
	return Endpoint{
		Timeout:      Duration(60 * time.Second),
		MaxBodyBytes: 0, // use server.max_body_bytes
		Capture: Capture{
			Enabled:          &enabled,
			SamplingPercent:  &sampling,
			Modes:            []string{ModeInput, ModeOutput},
			CSVContentTypes:  []string{"text/csv"},
			JSONContentTypes: []string{"application/json"},
			Durability:       DurabilityAsync,
			MaxObjectSeconds: 60,
			MaxObjectBytes:   64 * MiB,
			MaxPayloadBytes:  6 * MiB,
			Strict:           false,
		},
	}
}

// DefaultVariant returns the values each element of variants starts from
// before its YAML is decoded onto it. Each call returns a new value.
func DefaultVariant() Variant {
	return Variant{
		Weight:          1,
		InvocationsPath: "/invocations",
	}
}

// ApplyDefaults fills the zero-valued fields of an endpoint built in code
// (rather than by Parse) from DefaultEndpoint, and those of each variant from
// DefaultVariant. A nil list takes the default; an empty non-nil list is kept
// (and fails Validate), mirroring an omitted versus an explicit empty key.
// Weight is never changed, because 0 is a meaningful weight; set it yourself.
// Parse does not need this method.
func (e *Endpoint) ApplyDefaults() {
	d := DefaultEndpoint()
	if e.Timeout == 0 {
		e.Timeout = d.Timeout
	}
	c := &e.Capture
	if c.Enabled == nil {
		c.Enabled = d.Capture.Enabled
	}
	if c.SamplingPercent == nil {
		c.SamplingPercent = d.Capture.SamplingPercent
	}
	if c.Modes == nil {
		c.Modes = d.Capture.Modes
	}
	if c.CSVContentTypes == nil {
		c.CSVContentTypes = d.Capture.CSVContentTypes
	}
	if c.JSONContentTypes == nil {
		c.JSONContentTypes = d.Capture.JSONContentTypes
	}
	if c.Durability == "" {
		c.Durability = d.Capture.Durability
	}
	if c.MaxObjectSeconds == 0 {
		c.MaxObjectSeconds = d.Capture.MaxObjectSeconds
	}
	if c.MaxObjectBytes == 0 {
		c.MaxObjectBytes = d.Capture.MaxObjectBytes
	}
	if c.MaxPayloadBytes == 0 {
		c.MaxPayloadBytes = d.Capture.MaxPayloadBytes
	}
	dv := DefaultVariant()
	for i := range e.Variants {
		if e.Variants[i].InvocationsPath == "" {
			e.Variants[i].InvocationsPath = dv.InvocationsPath
		}
	}
}

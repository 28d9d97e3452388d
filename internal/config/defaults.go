package config

import "time"

// Every default lives in this file. Parse decodes the YAML onto Default(), and
// decodes each element of endpoints onto DefaultEndpoint() and each element of
// variants onto DefaultVariant(), so a key left out keeps its default while an
// explicit value (even 0, false or an empty list) replaces it. One default
// depends on another key: capture.on_spool_full follows capture.durability
// (defaultSpoolFullPolicy), and Parse resolves it after decoding each
// endpoint, so an explicit value always wins.

// defaultSamplingPercent is also what Capture.Sampling returns for nil.
const defaultSamplingPercent = 100

// defaultSpoolFullPolicy is the capture.on_spool_full of an endpoint that
// leaves the key out: reject for sync durability (its clients were promised
// a durable record, so refuse rather than drop it silently), shed otherwise
// (async capture is best-effort; keep serving). Capture.SpoolFullPolicy
// returns it for an empty OnSpoolFull.
func defaultSpoolFullPolicy(durability string) string {
	if durability == DurabilitySync {
		return SpoolFullReject
	}
	return SpoolFullShed
}

// onSpoolFullUnset stands in for capture.on_spool_full while Parse decodes
// an endpoint, so that resolveDefaults can tell a key left out (or null)
// from an explicit value, even an explicit "" (which Validate rejects). It
// is not valid UTF-8, so YAML text cannot spell it (at worst an environment
// variable holding these very bytes makes the key count as left out).
const onSpoolFullUnset = "\xffunset"

// parseEndpoint returns what Parse decodes each element of endpoints onto:
// DefaultEndpoint with on_spool_full marked as not written.
func parseEndpoint() Endpoint {
	e := DefaultEndpoint()
	e.Capture.OnSpoolFull = onSpoolFullUnset
	return e
}

// resolveDefaults fills, once an endpoint's YAML is decoded, the defaults
// that depend on other keys: on_spool_full follows durability.
func (e *Endpoint) resolveDefaults() {
	if e.Capture.OnSpoolFull == onSpoolFullUnset {
		e.Capture.OnSpoolFull = defaultSpoolFullPolicy(e.Capture.Durability)
	}
}

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
			TLS: ServerTLS{ // off: clear-text HTTP
				ClientAuth: ClientAuthNone,
			},
		},
		Storage: Storage{
			Blob:               "file://./glassbox-data",
			Spool:              "./glassbox-spool",
			QueueMaxRecords:    10000,
			QueueMaxBytes:      256 * MiB,
			SpoolMaxBytes:      1 * GiB,
			SpoolSegmentBytes:  64 * MiB,
			SpoolFsyncInterval: Duration(200 * time.Millisecond),
			S3: S3{
				Endpoint:  "", // AWS_ENDPOINT_URL, else AWS's endpoint for the region
				Region:    "", // AWS_REGION or the profile's region
				PathStyle: false,
				SSE:       SSENone,
				KMSKeyID:  "", // the AWS-managed key aws/s3 (sse: kms only)
			},
		},
		Log: Log{
			Level:  "info",
			Format: "text",
		},
		Endpoints: nil,
		OIDC: OIDC{
			Issuer:       "", // OIDC off
			RolesClaim:   "groups",
			SubjectClaim: "sub",
		},
		Monitoring: Monitoring{
			ReportsPrefix: "reports",
			Webhooks:      nil,
		},
		Keys: Keys{
			Provider: KeysProviderNone, // no encryption at rest
			Keyring:  "",               // required with provider local
			KMSKeyID: "",               // required with provider awskms
		},
		Cost: DefaultCost(), // cost.go: S3 Standard us-east-1 prices
	}
}

// DefaultEndpoint returns the values each element of endpoints starts from
// before its YAML is decoded onto it. It has no name and no variants, so it
// is not valid on its own. Capture.OnSpoolFull is empty because its default
// depends on Durability (see Capture.SpoolFullPolicy): Parse and
// ApplyDefaults fill it in once Durability is known. Each call returns a new
// value.
func DefaultEndpoint() Endpoint {
	enabled := true
	sampling := float64(defaultSamplingPercent)
	return Endpoint{
		Timeout:      Duration(60 * time.Second),
		MaxBodyBytes: 0, // use server.max_body_bytes
		Auth:         AuthNone,
		Capture: Capture{
			Enabled:          &enabled,
			SamplingPercent:  &sampling,
			Modes:            []string{ModeInput, ModeOutput},
			CSVContentTypes:  []string{"text/csv"},
			JSONContentTypes: []string{"application/json"},
			Durability:       DurabilityAsync,
			OnSpoolFull:      "", // by durability: reject for sync, shed for async
			MaxObjectSeconds: 60,
			MaxObjectBytes:   64 * MiB,
			MaxPayloadBytes:  6 * MiB,
			Strict:           false,
			Encrypt:          false, // needs keys.provider

			// Retention (retention.go): keep objects and payloads forever.
			RetentionDays:        0,
			PayloadRetentionDays: 0,
		},
		Monitor: DefaultMonitor(), // formats auto, share_threshold 0.5, no schedules
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
// An empty Capture.OnSpoolFull takes the default for the (filled-in)
// Durability.
// Weight is never changed, because 0 is a meaningful weight; set it yourself.
// Parse does not need this method.
func (e *Endpoint) ApplyDefaults() {
	d := DefaultEndpoint()
	if e.Timeout == 0 {
		e.Timeout = d.Timeout
	}
	if e.Auth == "" {
		e.Auth = d.Auth
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
	if c.OnSpoolFull == "" {
		c.OnSpoolFull = defaultSpoolFullPolicy(c.Durability)
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
	e.Monitor.applyDefaults()
	dv := DefaultVariant()
	for i := range e.Variants {
		if e.Variants[i].InvocationsPath == "" {
			e.Variants[i].InvocationsPath = dv.InvocationsPath
		}
	}
}

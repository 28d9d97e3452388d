package config

// Capture modes, the values allowed in Capture.Modes.
const (
	ModeInput  = "input"  // capture the request payload
	ModeOutput = "output" // capture the response payload
)

// Capture durabilities, the values allowed in Capture.Durability.
const (
	DurabilityAsync = "async" // acknowledge once the record is queued
	DurabilitySync  = "sync"  // acknowledge after the spool fsync
)

// Spool-full policies, the values allowed in Capture.OnSpoolFull.
const (
	SpoolFullReject = "reject" // refuse (503) exchanges that would be captured
	SpoolFullShed   = "shed"   // serve them and drop (and count) the record
)

// Blob store schemes, as returned by BlobScheme.
const (
	BlobSchemeFile = "file" // file:///abs/dir, file://./rel/dir
	BlobSchemeS3   = "s3"   // s3://bucket/prefix
)

// Server-side encryption modes, the values allowed in S3.SSE.
const (
	SSENone   = "none"   // send no SSE header; the bucket's default applies
	SSEAES256 = "aes256" // SSE-S3 (AES256)
	SSEKMS    = "kms"    // SSE-KMS (aws:kms), with S3.KMSKeyID when set
)

// Config is the whole Glassbox configuration file. Obtain one with Load or
// Parse (which apply defaults and validate) or start from Default.
type Config struct {
	// Server configures the HTTP listener that receives inference requests.
	Server Server `yaml:"server"`
	// Storage says where capture objects and the local spool live.
	Storage Storage `yaml:"storage"`
	// Log configures the process logger.
	Log Log `yaml:"log"`
	// Endpoints lists the inference endpoints the gateway serves. An empty
	// list is valid: the gateway then answers every invocation with 404.
	// They are loaded into the metadata store at start; the API can add
	// more and change them.
	Endpoints []Endpoint `yaml:"endpoints"`
	// Policies are rules every endpoint must meet.
	Policies Policies `yaml:"policies"`
	// Roles are custom roles, beside the built-in ones.
	Roles []Role `yaml:"roles"`
	// OIDC turns on OpenID Connect access-token authentication for the
	// control-plane API. An empty issuer leaves it off.
	OIDC OIDC `yaml:"oidc"`
	// Monitoring holds settings shared by every endpoint's monitor: where
	// reports go and who is notified.
	Monitoring Monitoring `yaml:"monitoring"`
	// Keys configures the key provider for envelope encryption at rest
	// (see Keys and keys.go). Default: none.
	Keys Keys `yaml:"keys"`
	// Compliance configures the compliance rules (see compliance.go and
	// docs/compliance.md). Default: every rule on, none enforced.
	Compliance Compliance `yaml:"compliance"`
	// Cost configures cost and showback: prices, budgets, anomalies and
	// idle endpoints (see Cost and cost.go).
	Cost Cost `yaml:"cost"`
}

// Server configures the gateway's HTTP listener.
type Server struct {
	// Listen is the host:port to listen on. Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// ReadHeaderTimeout bounds how long a client may take to send request
	// headers. Default 10s; must be > 0.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// IdleTimeout is how long an idle keep-alive connection stays open.
	// Default 120s; must be > 0.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// ShutdownTimeout is how long, on SIGTERM, the gateway waits for in-flight
	// exchanges to finish and captures to flush. Default 30s; must be > 0.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// MaxBodyBytes is the request body limit; larger bodies get 413.
	// Default 6 MiB (6291456, SageMaker's payload limit); must be >= 1.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// TLS serves the listener over TLS, with optional client certificates.
	// Default: off (clear text; serve warns when Listen is not loopback).
	TLS ServerTLS `yaml:"tls"`
}

// Storage says where captured data goes.
type Storage struct {
	// Blob is the object store that receives capture objects, as a URL:
	//   - file:///abs/dir is an absolute directory, file://./dir and
	//     file://dir are relative to the working directory (see BlobPath);
	//   - s3://bucket or s3://bucket/prefix is an S3 bucket with an optional
	//     key prefix (see S3Location); S3 configures the client.
	// BlobScheme tells the two apart. Default "file://./glassbox-data".
	Blob string `yaml:"blob"`
	// Metadata is the metadata store: sqlite:///path/glassbox.db (the
	// default, a file beside the local data) or postgres://user@host/db.
	Metadata string `yaml:"metadata"`
	// Spool is the local directory that holds captured records until they are
	// uploaded. Default "./glassbox-spool"; must not be empty.
	Spool string `yaml:"spool"`
	// QueueMaxRecords bounds the in-memory asynchronous capture queue by
	// record count. Default 10000; must be >= 1.
	QueueMaxRecords int `yaml:"queue_max_records"`
	// QueueMaxBytes bounds the same queue by payload bytes. Default 256 MiB;
	// must be >= 1 MiB.
	QueueMaxBytes ByteSize `yaml:"queue_max_bytes"`
	// SpoolMaxBytes bounds the bytes of spool segments on disk (records not
	// yet confirmed in the blob store). When it is reached, each endpoint's
	// capture.on_spool_full policy applies. Default 1 GiB; must be >= 1 MiB.
	SpoolMaxBytes ByteSize `yaml:"spool_max_bytes"`
	// SpoolSegmentBytes is the size at which a spool segment is sealed and
	// uploaded. Default 64 MiB; must be >= 64 KiB and <= SpoolMaxBytes.
	SpoolSegmentBytes ByteSize `yaml:"spool_segment_bytes"`
	// SpoolFsyncInterval is the group-commit interval for records of async
	// endpoints: the spool is fsynced at least this often while it holds
	// unsynced records. Records of sync endpoints are fsynced before their
	// response is released, batched with whatever else is pending.
	// Default 200ms; must be > 0 and <= 10s.
	SpoolFsyncInterval Duration `yaml:"spool_fsync_interval"`
	// S3 configures the S3 client for an s3:// Blob. Its keys must keep
	// their defaults when Blob is a file:// URL.
	S3 S3 `yaml:"s3"`
}

// S3 configures access to an S3-compatible blob store (storage.s3). Every
// field is optional; the AWS SDK's configuration chain (environment,
// profile, instance role) supplies credentials and whatever is left empty.
type S3 struct {
	// Endpoint overrides the S3 endpoint URL (and AWS_ENDPOINT_URL), as for
	// MinIO or moto: an absolute http or https URL with a host, without
	// query or fragment. Default "" (the AWS endpoint for the region).
	Endpoint string `yaml:"endpoint"`
	// Region overrides the region (and AWS_REGION). Default "".
	Region string `yaml:"region"`
	// PathStyle addresses the bucket in the URL path (endpoint/bucket/key)
	// rather than in the host name; MinIO, moto and most non-AWS stores need
	// it. Default false.
	PathStyle bool `yaml:"path_style"`
	// SSE is the server-side encryption requested for each object: "none",
	// "aes256" (SSE-S3) or "kms" (SSE-KMS). Default "none".
	SSE string `yaml:"sse"`
	// KMSKeyID is the KMS key for SSE "kms": a key id, key ARN, alias/name
	// or alias ARN, at most 2048 characters of letters, digits and ":/_-".
	// Default "" (the AWS-managed key aws/s3); an error with any other SSE.
	KMSKeyID string `yaml:"kms_key_id"`
}

// Log configures the process logger.
type Log struct {
	// Level is the minimum level logged: debug, info, warn or error.
	// Default "info".
	Level string `yaml:"level"`
	// Format is the log line format: text or json. Default "text".
	Format string `yaml:"format"`
}

// Endpoint is one inference endpoint: a name clients invoke, the model
// servers (variants) that answer it, and how its traffic is captured.
// Parse starts every element of the endpoints list from DefaultEndpoint.
type Endpoint struct {
	// Name is what clients invoke (/endpoints/{name}/invocations). Required;
	// SageMaker's rule ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$, at most 63 characters,
	// unique across endpoints. "reports" (in any case) is reserved: it is
	// the blob store's report prefix.
	Name string `yaml:"name"`
	// Tags are free-form key/value labels copied into metadata. SageMaker's
	// tag rules apply: at most 50 tags, keys 1–128 and values 0–256
	// characters of letters, digits, spaces and _.:/=+-@, and keys must not
	// start with "aws:".
	Tags map[string]string `yaml:"tags"`
	// Variants are the model servers behind the endpoint, chosen per request
	// by weight. At least one; names unique within the endpoint.
	Variants []Variant `yaml:"variants"`
	// Capture configures data capture for this endpoint.
	Capture Capture `yaml:"capture"`
	// Timeout is how long to wait for an upstream's response headers before
	// answering 504. Default 60s; must be > 0.
	Timeout Duration `yaml:"timeout"`
	// MaxBodyBytes overrides server.max_body_bytes for this endpoint. Default
	// 0, meaning use server.max_body_bytes.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// Auth is the data-plane authentication of the endpoint: "none" (the
	// default) or "token": invocations must carry "Authorization: Bearer
	// gbx_..." of a token whose roles grant endpoints:invoke on this
	// endpoint (the built-in role invoker does).
	Auth string `yaml:"auth"`
	// Monitor configures model monitoring of the endpoint: baseline, row
	// assembly, drift rules and schedules. Default: no schedules.
	Monitor Monitor `yaml:"monitor"`
}

// Variant is one model server behind an endpoint (a SageMaker production
// variant). Parse starts every element of a variants list from DefaultVariant.
type Variant struct {
	// Name identifies the variant in capture records and metrics. Required;
	// same rule as the endpoint name; unique within its endpoint.
	Name string `yaml:"name"`
	// Upstream is the model server's base URL: absolute http or https with a
	// host, optionally with a path prefix, without query or fragment.
	// Required.
	Upstream string `yaml:"upstream"`
	// Weight is the variant's relative share of traffic. Default 1; must be
	// finite and >= 0, and at least one variant of an endpoint must have a
	// weight > 0. An explicit 0 keeps the variant out of rotation.
	Weight float64 `yaml:"weight"`
	// InvocationsPath is appended to Upstream's path for each invocation.
	// Default "/invocations" (the SageMaker container contract); must start
	// with "/" and contain no query or fragment.
	InvocationsPath string `yaml:"invocations_path"`
	// TLS configures the connection to an https Upstream: a private CA,
	// a client certificate, the server name. Default nil (system roots, no
	// client certificate); only for https upstreams.
	TLS *UpstreamTLS `yaml:"tls,omitempty"`
}

// Capture configures SageMaker-style data capture for an endpoint. Use
// IsEnabled and Sampling to read the two optional fields.
type Capture struct {
	// Enabled turns capture on or off. Default true (nil also means true).
	Enabled *bool `yaml:"enabled"`
	// SamplingPercent is the percentage of invocations captured, 0 to 100
	// inclusive, fractions allowed. Default 100 (nil also means 100).
	SamplingPercent *float64 `yaml:"sampling_percent"`
	// Modes says which sides of an exchange are captured: "input",
	// "output" or both. Default [input, output]; must not be empty or contain
	// duplicates.
	Modes []string `yaml:"modes"`
	// CSVContentTypes are the content types whose payloads are recorded as
	// CSV text rather than base64. Default [text/csv]; 1 to 10 items, each at
	// most 256 characters and matching SageMaker's rule
	// ^[a-zA-Z0-9](-*[a-zA-Z0-9])*/[a-zA-Z0-9](-*[a-zA-Z0-9.])*$.
	CSVContentTypes []string `yaml:"csv_content_types"`
	// JSONContentTypes are the content types whose payloads are recorded as
	// JSON text rather than base64. Default [application/json]; same rules as
	// CSVContentTypes, and no type may appear in both lists.
	JSONContentTypes []string `yaml:"json_content_types"`
	// Durability is "async" (release the response once the record is
	// queued; the spool is fsynced every storage.spool_fsync_interval) or
	// "sync" (release the response only after the record is fsynced in the
	// spool). Default "async".
	Durability string `yaml:"durability"`
	// OnSpoolFull says what happens to an exchange that would be captured
	// while the spool holds storage.spool_max_bytes: "reject" answers 503
	// instead of serving it, "shed" serves it and drops the record (counted
	// in metrics). Default "reject" when Durability is "sync" and "shed"
	// otherwise, resolved after decoding, so an explicit value always wins.
	// SpoolFullPolicy returns the effective value.
	OnSpoolFull string `yaml:"on_spool_full"`
	// MaxObjectSeconds rolls a capture object after this many seconds.
	// Default 60; 1 to 3600.
	MaxObjectSeconds int `yaml:"max_object_seconds"`
	// MaxObjectBytes rolls a capture object when it reaches this size.
	// Default 64 MiB; must be >= 1 KiB.
	MaxObjectBytes ByteSize `yaml:"max_object_bytes"`
	// MaxPayloadBytes truncates each captured payload to this many bytes
	// (the record is marked truncated). Default 6 MiB; must be >= 1.
	MaxPayloadBytes ByteSize `yaml:"max_payload_bytes"`
	// Strict, when true, makes records carry only SageMaker's keys (no
	// "glassbox" extra object). Default false.
	Strict bool `yaml:"strict"`
	// Encrypt, when true, stores this endpoint's capture objects encrypted
	// with a fresh data key each, wrapped by the keys provider (which must
	// be set). Default false.
	Encrypt bool `yaml:"encrypt,omitempty"`
	// Redact lists PII redaction rules applied to both payloads before the
	// record is written (see RedactRule and docs/redaction.md). Default
	// none.
	Redact []RedactRule `yaml:"redact,omitempty"`
	// RetentionDays deletes this endpoint's capture objects once their
	// hour ended more than this many days ago (see retention.go and
	// docs/retention.md). Default 0: keep forever; at most 36500.
	RetentionDays int `yaml:"retention_days,omitempty"`
	// PayloadRetentionDays empties the payload data of capture objects
	// older than this many days, keeping their metadata; it must be less
	// than RetentionDays when both are set. Default 0: keep payloads until
	// the object is deleted.
	PayloadRetentionDays int `yaml:"payload_retention_days,omitempty"`
}

// Endpoint returns the endpoint called name and true, or nil and false when
// there is none. The pointer refers into c.Endpoints.
func (c *Config) Endpoint(name string) (*Endpoint, bool) {
	for i := range c.Endpoints {
		if c.Endpoints[i].Name == name {
			return &c.Endpoints[i], true
		}
	}
	return nil, false
}

// IsEnabled reports whether capture is on: Enabled, or true when it is nil.
func (c *Capture) IsEnabled() bool {
	return c.Enabled == nil || *c.Enabled
}

// Sampling returns SamplingPercent, or the default 100 when it is nil.
func (c *Capture) Sampling() float64 {
	if c.SamplingPercent == nil {
		return defaultSamplingPercent
	}
	return *c.SamplingPercent
}

// SpoolFullPolicy returns the effective on_spool_full policy: OnSpoolFull,
// or when it is empty the default for Durability (SpoolFullReject for sync,
// SpoolFullShed otherwise). Parse and ApplyDefaults always set OnSpoolFull,
// so the fallback only matters for a Capture built in code.
func (c *Capture) SpoolFullPolicy() string {
	if c.OnSpoolFull == "" {
		return defaultSpoolFullPolicy(c.Durability)
	}
	return c.OnSpoolFull
}

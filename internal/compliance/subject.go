// Package compliance evaluates model endpoints against documented rules:
// capture on, sampling at the tier's minimum, encryption, a private capture
// destination, retention, required tags, a monitor with a baseline, alerts,
// an approved model. The endpoints come from three sources — Glassbox's own
// configuration, live SageMaker accounts and infrastructure code — and are
// first described as Subjects, so one rule set serves all three.
//
// It is a domain package: no HTTP, no SDKs, no config schema. The readers
// of each source live elsewhere and produce Subjects.
package compliance

// Sources of a Subject.
const (
	SourceGlassbox  = "glassbox"
	SourceSageMaker = "sagemaker"
	SourceIaC       = "iac"
)

// Kinds of a Subject.
const (
	// KindEndpoint is a model endpoint; the zero Kind means KindEndpoint.
	KindEndpoint = "endpoint"
	// KindBucket is a capture bucket declared on its own (not linked as
	// an endpoint's capture destination). Its Capture fields describe the
	// bucket: Encryption, KMSKeyID, DestinationPublic, Retention,
	// RetentionDays, Immutable; Capture.Enabled is irrelevant. Only the
	// storage rules (encryption, public access, retention) and the tag
	// rule apply to it.
	KindBucket = "capture-bucket"
)

// Encryption of a capture destination, weakest first.
const (
	EncryptionNone     = "none"
	EncryptionSSES3    = "sse-s3"     // provider-managed keys
	EncryptionSSEKMS   = "sse-kms"    // KMS, AWS-managed or unknown key
	EncryptionKMSCMK   = "kms-cmk"    // KMS with a customer-managed key
	EncryptionEnvelope = "client-cmk" // Glassbox client-side envelope keys
)

// Tri-state facts: a source cannot always tell.
type Fact int

const (
	Unknown Fact = iota // the source could not check; see Subject.Unchecked
	No
	Yes
)

// FactOf turns a bool into a Fact.
func FactOf(b bool) Fact {
	if b {
		return Yes
	}
	return No
}

func (f Fact) String() string {
	switch f {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "unknown"
}

// Subject is one endpoint (or standalone capture bucket, see Kind) as a
// source describes it. Zero values mean "not
// configured"; Unknown facts mean "could not check" and come with a reason
// in Unchecked.
type Subject struct {
	Source string // SourceGlassbox, SourceSageMaker, SourceIaC
	// Kind is KindEndpoint ("" means the same) or KindBucket.
	Kind string
	// Name is the endpoint name; Resource locates it in its source (an ARN,
	// "file.yaml#LogicalId", "glassbox:endpoint/name").
	Name     string
	Resource string
	// File and Line locate an IaC resource for SARIF (Line 0: unknown).
	File string
	Line int
	// Region and Account for SageMaker subjects.
	Region, Account string
	Tier            string // the "tier" tag, "default" when absent
	Tags            map[string]string

	Capture Capture
	// Monitored: a monitoring schedule with a baseline exists.
	Monitored Fact
	// Alerting: violations reach someone (webhook, SNS, Alertmanager).
	Alerting Fact
	// ModelApproved: the served model version is approved in a registry;
	// Unknown when no registry is known.
	ModelApproved Fact

	// Unchecked explains each fact the source could not check, by fact
	// name ("capture.destination_public": "s3:GetBucketPolicyStatus:
	// AccessDenied").
	Unchecked map[string]string
}

// KindOrDefault returns s.Kind, KindEndpoint when empty.
func (s Subject) KindOrDefault() string {
	if s.Kind == "" {
		return KindEndpoint
	}
	return s.Kind
}

// IsBucket reports whether s is a standalone capture bucket.
func (s Subject) IsBucket() bool { return s.Kind == KindBucket }

// Capture describes an endpoint's data capture.
type Capture struct {
	Enabled         Fact
	SamplingPercent float64
	Destination     string // s3://bucket/prefix, file:///path
	Encryption      string // Encryption* constants; "" unknown
	KMSKeyID        string
	// DestinationPublic: the destination can be read without credentials.
	DestinationPublic Fact
	// Retention: objects expire (lifecycle rule or retention_days).
	Retention     Fact
	RetentionDays int
	// Versioning or object lock protects captured objects from silent
	// overwrite (informational).
	Immutable Fact
}

package compliance

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Severity ranks a rule; a higher value is more severe. The zero value is
// not a severity: ParseSeverity never returns it.
type Severity int

// Severities, least severe first.
const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

// Severities lists every severity, least severe first.
func Severities() []Severity { return []Severity{Low, Medium, High, Critical} }

// ParseSeverity parses "low", "medium", "high" or "critical" (any case).
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "low":
		return Low, nil
	case "medium":
		return Medium, nil
	case "high":
		return High, nil
	case "critical":
		return Critical, nil
	}
	return 0, fmt.Errorf("unknown severity %q: want low, medium, high or critical", s)
}

func (s Severity) String() string {
	switch s {
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	case Critical:
		return "critical"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes s as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a name with ParseSeverity.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Statuses of a Result.
const (
	StatusPass    = "pass"
	StatusFail    = "fail"
	StatusUnknown = "unknown" // a fact the rule needs could not be checked
	StatusSkipped = "skipped" // the rule is disabled or does not apply
)

// Fact names: the keys of Subject.Unchecked that rules read.
const (
	FactCaptureEnabled    = "capture.enabled"
	FactSampling          = "capture.sampling_percent"
	FactEncryption        = "capture.encryption"
	FactDestinationPublic = "capture.destination_public"
	FactRetention         = "capture.retention"
	FactTags              = "tags"
	FactMonitored         = "monitored"
	FactAlerting          = "alerting"
	FactModelApproved     = "model_approved"
)

// Rule is one documented compliance check. Adding a rule means appending
// it to Rules; Evaluate never changes.
type Rule struct {
	ID                     string // GBX-CAP-001
	Title                  string
	Severity               Severity // default severity; config may re-level it
	Rationale, Remediation string
	// Applies reports whether the rule concerns the subject at all (the
	// capture rules do not concern an endpoint whose capture is off: that
	// is GBX-CAP-001's finding; the endpoint-only rules do not concern a
	// KindBucket subject). Nil means always.
	Applies func(Subject) bool
	// Check evaluates the subject.
	Check func(Subject, Settings) Result
}

// Result is a rule's verdict on one subject.
type Result struct {
	Status string // StatusPass, StatusFail, StatusUnknown, StatusSkipped
	Detail string
}

// Rules returns the rule registry, in report order. Each call returns a new
// slice.
func Rules() []Rule {
	return []Rule{
		{
			ID: "GBX-CAP-001", Title: "Data capture is enabled", Severity: Critical,
			Rationale:   "An endpoint without data capture is a black box: nobody can audit, monitor or reproduce what it answered.",
			Remediation: "Enable data capture (Glassbox: capture.enabled: true; SageMaker: DataCaptureConfig.EnableCapture).",
			Applies:     endpointOnly,
			Check: func(s Subject, _ Settings) Result {
				return fact(s, s.Capture.Enabled, FactCaptureEnabled, "capture is enabled", "capture is disabled")
			},
		},
		{
			ID: "GBX-CAP-002", Title: "Sampling is at or above the tier's minimum", Severity: High,
			Rationale:   "Capturing a small share of traffic hides rare inputs and makes drift and incident reviews unreliable; critical tiers need more.",
			Remediation: "Raise the sampling percentage to the tier's minimum (compliance settings / policies.min_sampling_percent).",
			Applies:     func(s Subject) bool { return endpointOnly(s) && captureNotOff(s) },
			Check: func(s Subject, st Settings) Result {
				if hasUnchecked(s, FactSampling) {
					return unknown(s, FactSampling)
				}
				if s.Capture.Enabled == Unknown {
					return unknown(s, FactCaptureEnabled)
				}
				min, key := st.minSampling(s.Tier)
				p := s.Capture.SamplingPercent
				switch {
				case p <= 0:
					return Result{StatusFail, "sampling is 0%: nothing is captured"}
				case p < min:
					return Result{StatusFail, fmt.Sprintf("sampling %v%% is below the %s minimum of %v%%", p, key, min)}
				}
				return Result{StatusPass, fmt.Sprintf("sampling %v%% (minimum %v%%)", p, min)}
			},
		},
		{
			ID: "GBX-ENC-001", Title: "Capture destination is encrypted with a customer key", Severity: High,
			Rationale:   "Captured payloads hold production inputs and outputs, often personal data; a customer-managed key (client-side envelope or SSE-KMS) lets you control and revoke access and audit every decryption.",
			Remediation: "Encrypt captures client-side (capture.encrypt: true with a keys provider) or with SSE-KMS and a customer-managed key (storage.s3.sse: kms, storage.s3.kms_key_id; SageMaker: DataCaptureConfig.KmsKeyId).",
			Applies:     captureNotOff,
			Check: func(s Subject, _ Settings) Result {
				switch s.Capture.Encryption {
				case EncryptionEnvelope:
					return Result{StatusPass, "client-side envelope encryption with customer keys"}
				case EncryptionKMSCMK:
					return Result{StatusPass, "SSE-KMS with customer-managed key " + s.Capture.KMSKeyID}
				case EncryptionSSEKMS:
					return Result{StatusFail, "SSE-KMS with an AWS-managed or unspecified key, not a customer-managed key"}
				case EncryptionSSES3:
					return Result{StatusFail, "SSE-S3: provider-managed keys only"}
				case EncryptionNone:
					return Result{StatusFail, "captured data is not encrypted"}
				}
				return unknown(s, FactEncryption)
			},
		},
		{
			ID: "GBX-PUB-001", Title: "Capture destination is not public", Severity: Critical,
			Rationale:   "A publicly readable capture destination leaks every captured request and response.",
			Remediation: "Block public access on the capture bucket (S3 Block Public Access, no public bucket policy or ACL).",
			Applies:     captureNotOff,
			Check: func(s Subject, _ Settings) Result {
				return fact(s, Not(s.Capture.DestinationPublic), FactDestinationPublic, "destination is not public", "destination "+s.Capture.Destination+" is publicly readable")
			},
		},
		{
			ID: "GBX-RET-001", Title: "Captured data expires", Severity: Medium,
			Rationale:   "Keeping captured payloads forever grows cost and privacy exposure; data protection rules expect a retention period.",
			Remediation: "Set a retention period (Glassbox: capture.retention_days; S3: a lifecycle expiration rule on the capture prefix).",
			Applies:     captureNotOff,
			Check: func(s Subject, _ Settings) Result {
				ok := "retention is set"
				if s.Capture.RetentionDays > 0 {
					ok = fmt.Sprintf("objects expire after %d days", s.Capture.RetentionDays)
				}
				return fact(s, s.Capture.Retention, FactRetention, ok, "captured data is kept forever")
			},
		},
		{
			ID: "GBX-TAG-001", Title: "Required tags are present", Severity: Medium,
			Rationale:   "Owner and cost-center tags say who answers for an endpoint and who pays for its captured data (showback).",
			Remediation: "Add the missing tags to the endpoint (Glassbox: endpoints[].tags; SageMaker: AddTags).",
			Check: func(s Subject, st Settings) Result {
				if hasUnchecked(s, FactTags) {
					return unknown(s, FactTags)
				}
				if len(st.RequiredTags) == 0 {
					return Result{StatusPass, "no tags are required"}
				}
				var missing []string
				for _, t := range st.RequiredTags {
					if strings.TrimSpace(s.Tags[t]) == "" {
						missing = append(missing, t)
					}
				}
				if len(missing) > 0 {
					return Result{StatusFail, "missing tags: " + strings.Join(missing, ", ")}
				}
				return Result{StatusPass, "tags present: " + strings.Join(st.RequiredTags, ", ")}
			},
		},
		{
			ID: "GBX-MON-001", Title: "A monitoring schedule with a baseline exists", Severity: Medium,
			Rationale:   "Without a scheduled comparison against a baseline, drift and data-quality problems go unnoticed until users complain.",
			Remediation: "Add a baseline and at least one schedule (Glassbox: endpoints[].monitor.baseline and .schedules; SageMaker: CreateMonitoringSchedule).",
			Applies:     endpointOnly,
			Check: func(s Subject, _ Settings) Result {
				return fact(s, s.Monitored, FactMonitored, "a monitoring schedule with a baseline exists", "no monitoring schedule with a baseline")
			},
		},
		{
			ID: "GBX-ALR-001", Title: "Monitoring alerts reach someone", Severity: Medium,
			Rationale:   "A monitor whose violations notify nobody is a report nobody reads.",
			Remediation: "Wire monitor violations to a receiver (Glassbox: monitoring.webhooks; SageMaker: a CloudWatch alarm or SNS topic on the schedule's metrics).",
			Applies:     endpointOnly,
			Check: func(s Subject, _ Settings) Result {
				return fact(s, s.Alerting, FactAlerting, "violations are notified", "violations notify nobody")
			},
		},
		{
			ID: "GBX-REG-001", Title: "The served model version is approved", Severity: High,
			Rationale:   "Only reviewed, approved model versions should serve production traffic.",
			Remediation: "Approve the model version in the model registry before deploying it, or deploy an approved version.",
			Applies:     endpointOnly,
			Check: func(s Subject, _ Settings) Result {
				return fact(s, s.ModelApproved, FactModelApproved, "the model version is approved", "the model version is not approved")
			},
		},
	}
}

// Not negates a Fact; Unknown stays Unknown.
func Not(f Fact) Fact {
	switch f {
	case Yes:
		return No
	case No:
		return Yes
	}
	return Unknown
}

// captureNotOff: the storage rules concern endpoints whose capture is not
// off, and always a standalone capture bucket.
func captureNotOff(s Subject) bool { return s.IsBucket() || s.Capture.Enabled != No }

// endpointOnly: the rule concerns endpoints, not standalone buckets.
func endpointOnly(s Subject) bool { return !s.IsBucket() }

func hasUnchecked(s Subject, name string) bool {
	_, ok := s.Unchecked[name]
	return ok
}

// fact turns a Fact into a Result: Yes passes, No fails, Unknown is
// unknown with the subject's reason.
func fact(s Subject, f Fact, name, pass, fail string) Result {
	switch f {
	case Yes:
		return Result{StatusPass, pass}
	case No:
		return Result{StatusFail, fail}
	}
	return unknown(s, name)
}

// unknown is the Result for a fact the source could not check: the
// Unchecked reason, never a silent pass.
func unknown(s Subject, name string) Result {
	if why, ok := s.Unchecked[name]; ok && why != "" {
		return Result{StatusUnknown, "could not check " + name + ": " + why}
	}
	src := s.Source
	if src == "" {
		src = "this"
	}
	return Result{StatusUnknown, "could not check " + name + ": not reported by the " + src + " source"}
}

// ruleIDs returns the ids of rules, for messages.
func ruleIDs(rules []Rule) []string {
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.ID
	}
	return ids
}

// RuleIDs returns the ids of the registry's rules, in report order.
func RuleIDs() []string { return ruleIDs(Rules()) }

// KnownRule reports whether id names a rule of the registry.
func KnownRule(id string) bool { return slices.Contains(RuleIDs(), id) }

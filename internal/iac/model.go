package iac

import (
	"strings"

	"github.com/glassbox-dev/glassbox/internal/compliance"
)

// Names of facts in Subject.Unchecked, as this package fills them.
const (
	factEnabled     = "capture.enabled"
	factSampling    = "capture.sampling_percent"
	factDestination = "capture.destination"
	factEncryption  = "capture.encryption"
	factPublic      = "capture.destination_public"
	factRetention   = "capture.retention"
	factImmutable   = "capture.immutable"
	factTags        = "tags"
	factMonitored   = "monitored"
	factAlerting    = "alerting"
	factApproved    = "model_approved"
)

// bucketFacts is what a file says about one S3 bucket.
type bucketFacts struct {
	id         string // logical id or Terraform address
	name       string // bucket name when known
	line       int
	tags       map[string]string
	linked     bool   // the capture destination of an endpoint config
	encryption string // compliance.Encryption*; "" unknown
	kmsKey     string
	public     compliance.Fact // readable without credentials
	retention  compliance.Fact
	days       int
	immutable  compliance.Fact
	unchecked  map[string]string
}

func newBucket(id string) *bucketFacts {
	return &bucketFacts{
		id:         id,
		tags:       map[string]string{},
		encryption: compliance.EncryptionSSES3, // S3 default since January 2023
		retention:  compliance.No,
		immutable:  compliance.No,
		public:     compliance.Unknown,
		unchecked: map[string]string{
			factPublic: "public access block not fully enabled; bucket policies and ACLs are not evaluated",
		},
	}
}

// subject describes a bucket no endpoint configuration of file captures
// into as a compliance.KindBucket Subject: the storage and tag rules
// apply to it.
func (b *bucketFacts) subject(file string) compliance.Subject {
	s := compliance.Subject{
		Source:   compliance.SourceIaC,
		Kind:     compliance.KindBucket,
		Name:     b.id,
		Resource: file + "#" + b.id,
		File:     file,
		Line:     b.line,
		Tier:     "default",
		Tags:     b.tags,
		Capture: compliance.Capture{
			Destination:       "s3://" + or(b.name, b.id),
			Encryption:        b.encryption,
			KMSKeyID:          b.kmsKey,
			DestinationPublic: b.public,
			Retention:         b.retention,
			RetentionDays:     b.days,
			Immutable:         b.immutable,
		},
	}
	if t := b.tags["tier"]; t != "" {
		s.Tier = t
	}
	if len(b.unchecked) > 0 {
		s.Unchecked = make(map[string]string, len(b.unchecked))
		for k, v := range b.unchecked {
			s.Unchecked[k] = v
		}
	}
	return s
}

// configFacts is what a file says about one endpoint configuration.
type configFacts struct {
	id   string // logical id or Terraform address
	line int
	name string // the endpoint name, else the config name, else id

	declared  bool // a data capture block exists
	enabled   compliance.Fact
	sampling  float64
	dest      string
	kmsKey    string
	kmsKind   string // encryption given by the capture KmsKeyId; "" none
	bucket    *bucketFacts
	tags      map[string]string
	unchecked map[string]string
}

func newConfig(id string, line int) *configFacts {
	return &configFacts{id: id, line: line, name: id, tags: map[string]string{}, unchecked: map[string]string{}}
}

// subject describes c as a compliance.Subject found in file.
func (c *configFacts) subject(file string) compliance.Subject {
	u := map[string]string{
		factMonitored: "monitoring schedules are not read from infrastructure code",
		factAlerting:  "alert routing is not read from infrastructure code",
		factApproved:  "model approval is not read from infrastructure code",
	}
	for k, v := range c.unchecked {
		u[k] = v
	}
	s := compliance.Subject{
		Source:        compliance.SourceIaC,
		Name:          c.name,
		Resource:      file + "#" + c.id,
		File:          file,
		Line:          c.line,
		Tier:          "default",
		Tags:          c.tags,
		Monitored:     compliance.Unknown,
		Alerting:      compliance.Unknown,
		ModelApproved: compliance.Unknown,
	}
	if t := c.tags["tier"]; t != "" {
		s.Tier = t
	}
	cp := &s.Capture
	if !c.declared {
		cp.Enabled = compliance.No
		for _, f := range []string{factEncryption, factPublic, factRetention, factImmutable} {
			u[f] = "no data capture configuration"
		}
		s.Unchecked = u
		return s
	}
	cp.Enabled = c.enabled
	cp.SamplingPercent = c.sampling
	cp.Destination = c.dest
	cp.KMSKeyID = c.kmsKey
	b := c.bucket
	switch {
	case b != nil:
		cp.Encryption, cp.DestinationPublic = b.encryption, b.public
		cp.Retention, cp.RetentionDays, cp.Immutable = b.retention, b.days, b.immutable
		if cp.KMSKeyID == "" {
			cp.KMSKeyID = b.kmsKey
		}
		if b.name != "" && strings.Contains(cp.Destination, "${") {
			cp.Destination = "s3://" + b.name + destPrefix(cp.Destination)
		}
		for k, v := range b.unchecked {
			if _, ok := u[k]; !ok {
				u[k] = v
			}
		}
	default:
		why := "capture destination bucket is not declared in this file"
		if r, ok := c.unchecked[factDestination]; ok {
			why = r
		}
		for _, f := range []string{factEncryption, factPublic, factRetention, factImmutable} {
			u[f] = why
		}
	}
	// The capture KmsKeyId encrypts captured objects whatever the bucket's
	// default is, so it wins when it is at least as strong.
	if c.kmsKind != "" && rankEnc(c.kmsKind) >= rankEnc(cp.Encryption) {
		cp.Encryption = c.kmsKind
	}
	if cp.Encryption != "" {
		delete(u, factEncryption)
	}
	if cp.Encryption == compliance.EncryptionSSEKMS {
		// Say why the key could not be told customer-managed, if known.
		if r, ok := c.unchecked[factEncryption]; ok {
			u[factEncryption] = r
		} else if b != nil && b.unchecked[factEncryption] != "" {
			u[factEncryption] = b.unchecked[factEncryption]
		}
	}
	if cp.DestinationPublic != compliance.Unknown {
		delete(u, factPublic)
	}
	if len(u) == 0 {
		u = nil
	}
	s.Unchecked = u
	return s
}

// rankEnc orders encryption kinds weakest first; "" (unknown) is lowest.
func rankEnc(e string) int {
	switch e {
	case compliance.EncryptionNone:
		return 1
	case compliance.EncryptionSSES3:
		return 2
	case compliance.EncryptionSSEKMS:
		return 3
	case compliance.EncryptionKMSCMK:
		return 4
	case compliance.EncryptionEnvelope:
		return 5
	}
	return 0
}

// destBucket splits an s3:// URI into its bucket part.
func destBucket(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		rest, ok = strings.CutPrefix(uri, "https://")
		if !ok {
			return "", false
		}
	}
	b, _, _ := strings.Cut(rest, "/")
	return b, b != ""
}

// destPrefix returns the "/prefix" part of an s3:// URI ("" when none).
func destPrefix(uri string) string {
	rest, _ := strings.CutPrefix(uri, "s3://")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[i:]
	}
	return ""
}

// kmsKindOf classifies a literal KMS key id, ARN or alias.
func kmsKindOf(key string) string {
	if strings.HasPrefix(key, "alias/aws/") || strings.Contains(key, ":alias/aws/") {
		return compliance.EncryptionSSEKMS // an AWS-managed key
	}
	return compliance.EncryptionKMSCMK
}

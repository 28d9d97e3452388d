package sagemaker

import (
	"context"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/glassbox-dev/glassbox/internal/compliance"
)

// S3 error codes that mean "not configured" rather than "could not check".
const (
	codeNoEncryption   = "ServerSideEncryptionConfigurationNotFoundError"
	codeNoPAB          = "NoSuchPublicAccessBlockConfiguration"
	codeNoPolicy       = "NoSuchBucketPolicy"
	codeNoLifecycle    = "NoSuchLifecycleConfiguration"
	codeNoObjectLock   = "ObjectLockConfigurationNotFoundError"
	codeNoObjectLockV2 = "ObjectLockConfigurationNotFound"
)

// bucketCheck holds what one capture destination bucket's settings say.
// It is filled once (by the first endpoint that needs it) and shared by all
// endpoints writing to the bucket.
type bucketCheck struct {
	once sync.Once

	encryption        string // compliance.Encryption*; "" when unknown
	kmsKeyID          string // the bucket's default KMS key, if any
	encryptionUnknown string

	public        compliance.Fact
	publicUnknown string

	rules            []s3types.LifecycleRule // nil: no lifecycle configuration
	lifecycleUnknown string

	immutable        compliance.Fact
	immutableUnknown string
}

// bucket returns the checked settings of name, checking it on first use.
func (a *auditor) bucket(ctx context.Context, name string) *bucketCheck {
	a.mu.Lock()
	b, ok := a.buckets[name]
	if !ok {
		b = &bucketCheck{}
		a.buckets[name] = b
	}
	a.mu.Unlock()
	b.once.Do(func() { a.checkBucket(ctx, name, b) })
	return b
}

// checkBucket reads the bucket's default encryption, public access,
// lifecycle rules, versioning and object lock.
func (a *auditor) checkBucket(ctx context.Context, name string, b *bucketCheck) {
	in := aws.String(name)

	// Default encryption.
	a.calls.add("s3:GetBucketEncryption")
	enc, err := a.s3.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: in})
	switch {
	case err != nil && errorCode(err) == codeNoEncryption:
		b.encryption = compliance.EncryptionNone
	case err != nil:
		b.encryptionUnknown = couldNot("s3:GetBucketEncryption", err)
	default:
		b.encryption = compliance.EncryptionNone
		if enc.ServerSideEncryptionConfiguration != nil {
			for _, r := range enc.ServerSideEncryptionConfiguration.Rules {
				d := r.ApplyServerSideEncryptionByDefault
				if d == nil {
					continue
				}
				switch d.SSEAlgorithm {
				case s3types.ServerSideEncryptionAes256:
					if b.encryption == compliance.EncryptionNone {
						b.encryption = compliance.EncryptionSSES3
					}
				case s3types.ServerSideEncryptionAwsKms, s3types.ServerSideEncryptionAwsKmsDsse:
					b.kmsKeyID = aws.ToString(d.KMSMasterKeyID)
					b.encryption = keyEncryption(b.kmsKeyID)
				}
			}
		}
	}

	// Public access: all four public access block settings on means not
	// public; otherwise the bucket policy status decides.
	a.calls.add("s3:GetPublicAccessBlock")
	pab, err := a.s3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: in})
	blocked := false
	switch {
	case err == nil:
		c := pab.PublicAccessBlockConfiguration
		blocked = c != nil && aws.ToBool(c.BlockPublicAcls) && aws.ToBool(c.IgnorePublicAcls) &&
			aws.ToBool(c.BlockPublicPolicy) && aws.ToBool(c.RestrictPublicBuckets)
	case errorCode(err) == codeNoPAB:
	default:
		b.publicUnknown = couldNot("s3:GetPublicAccessBlock", err)
	}
	if blocked {
		b.public = compliance.No
	} else {
		a.calls.add("s3:GetBucketPolicyStatus")
		ps, err := a.s3.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: in})
		switch {
		case err == nil:
			b.public = compliance.FactOf(ps.PolicyStatus != nil && aws.ToBool(ps.PolicyStatus.IsPublic))
			b.publicUnknown = ""
		case errorCode(err) == codeNoPolicy:
			// No bucket policy: nothing grants public access by policy.
			b.public = compliance.No
			b.publicUnknown = ""
		default:
			b.public = compliance.Unknown
			if b.publicUnknown == "" {
				b.publicUnknown = couldNot("s3:GetBucketPolicyStatus", err)
			} else {
				b.publicUnknown += "; " + couldNot("s3:GetBucketPolicyStatus", err)
			}
		}
	}

	// Lifecycle rules; matched against each endpoint's prefix in apply.
	a.calls.add("s3:GetBucketLifecycleConfiguration")
	lc, err := a.s3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: in})
	switch {
	case err == nil:
		b.rules = lc.Rules
	case errorCode(err) == codeNoLifecycle:
	default:
		b.lifecycleUnknown = couldNot("s3:GetBucketLifecycleConfiguration", err)
	}

	// Versioning, else object lock.
	a.calls.add("s3:GetBucketVersioning")
	ver, err := a.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: in})
	if err == nil && ver.Status == s3types.BucketVersioningStatusEnabled {
		b.immutable = compliance.Yes
		return
	}
	verErr := ""
	if err != nil {
		verErr = couldNot("s3:GetBucketVersioning", err)
	}
	a.calls.add("s3:GetObjectLockConfiguration")
	ol, err := a.s3.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: in})
	switch {
	case err == nil && ol.ObjectLockConfiguration != nil &&
		ol.ObjectLockConfiguration.ObjectLockEnabled == s3types.ObjectLockEnabledEnabled:
		b.immutable = compliance.Yes
	case verErr != "":
		b.immutable = compliance.Unknown
		b.immutableUnknown = verErr
	case err == nil || errorCode(err) == codeNoObjectLock || errorCode(err) == codeNoObjectLockV2:
		b.immutable = compliance.No
	default:
		// Versioning answered "off"; object lock needs versioning, so it
		// cannot be on either.
		b.immutable = compliance.No
	}
}

// apply copies the bucket's facts into s for the capture prefix.
func (b *bucketCheck) apply(s *compliance.Subject, prefix string) {
	c := &s.Capture
	switch {
	case c.KMSKeyID != "":
		// The capture config's own key encrypts every captured object,
		// whatever the bucket default is.
		c.Encryption = keyEncryption(c.KMSKeyID)
	case b.encryptionUnknown != "":
		s.Unchecked[FactCaptureEncryption] = b.encryptionUnknown
	default:
		c.Encryption = b.encryption
		c.KMSKeyID = b.kmsKeyID
	}

	c.DestinationPublic = b.public
	if b.publicUnknown != "" && b.public == compliance.Unknown {
		s.Unchecked[FactDestinationPublic] = b.publicUnknown
	}

	if b.lifecycleUnknown != "" {
		c.Retention = compliance.Unknown
		s.Unchecked[FactRetention] = b.lifecycleUnknown
	} else {
		days, ok := expiry(b.rules, prefix)
		c.Retention = compliance.FactOf(ok)
		c.RetentionDays = days
	}

	c.Immutable = b.immutable
	if b.immutable == compliance.Unknown {
		s.Unchecked[FactImmutable] = b.immutableUnknown
	}
}

// keyEncryption classifies a KMS key given by id, ARN or alias. The
// heuristic: the AWS-managed S3 key is named by the alias "alias/aws/s3"
// (or an alias ARN ending in it); any other key counts as customer-managed.
// An AWS-managed key named by its key id or key ARN is thus taken for a
// customer key; telling them apart needs kms:DescribeKey (KeyManager),
// which this reader does not call.
func keyEncryption(keyID string) string {
	switch {
	case keyID == "":
		return compliance.EncryptionSSEKMS
	case keyID == awsManagedS3Key, strings.HasSuffix(keyID, ":"+awsManagedS3Key):
		return compliance.EncryptionSSEKMS
	}
	return compliance.EncryptionKMSCMK
}

// expiry reports whether an enabled lifecycle rule expires the current
// versions of objects under prefix, and the shortest such expiry in days (0
// when the rule expires on a date). A rule covers the prefix when its own
// prefix (Filter.Prefix, Filter.And.Prefix or the legacy Prefix) is a
// prefix of it; rules that filter on tags are skipped because captured
// objects carry no tags, and size filters are ignored.
func expiry(rules []s3types.LifecycleRule, prefix string) (days int, ok bool) {
	for _, r := range rules {
		if r.Status != s3types.ExpirationStatusEnabled || r.Expiration == nil {
			continue
		}
		if r.Expiration.Days == nil && r.Expiration.Date == nil {
			continue // only ExpiredObjectDeleteMarker
		}
		rp := aws.ToString(r.Prefix) //lint:ignore SA1019 old buckets still carry rule-level prefixes
		if f := r.Filter; f != nil {
			if f.Tag != nil || (f.And != nil && len(f.And.Tags) > 0) {
				continue
			}
			if f.Prefix != nil {
				rp = *f.Prefix
			}
			if f.And != nil && f.And.Prefix != nil {
				rp = *f.And.Prefix
			}
		}
		if !strings.HasPrefix(prefix+"/", strings.TrimLeft(rp, "/")) && !strings.HasPrefix(prefix, strings.TrimLeft(rp, "/")) {
			continue
		}
		d := int(aws.ToInt32(r.Expiration.Days))
		if !ok || (d > 0 && (days == 0 || d < days)) {
			days = d
		}
		ok = true
	}
	return days, ok
}

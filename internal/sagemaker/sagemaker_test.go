package sagemaker_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	sm "github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/glassbox-dev/glassbox/internal/compliance"
	"github.com/glassbox-dev/glassbox/internal/sagemaker"
	"github.com/glassbox-dev/glassbox/internal/testenv"
)

// cmkARN is a customer-managed key; moto does not check that it exists.
const cmkARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// compact renders the facts of one subject on one line, for comparing with
// an expected table.
func compact(s compliance.Subject, prefix string) string {
	var tags []string
	for k := range s.Tags {
		tags = append(tags, k)
	}
	sort.Strings(tags)
	var unchecked []string
	for k := range s.Unchecked {
		if k == sagemaker.FactAlerting || k == sagemaker.FactModelApproved {
			continue
		}
		unchecked = append(unchecked, k)
	}
	sort.Strings(unchecked)
	c := s.Capture
	return fmt.Sprintf("%s capture=%s sampling=%g kms=%t enc=%s public=%s retention=%s/%d immutable=%s monitored=%s tier=%s tags=%s unchecked=%s",
		strings.TrimPrefix(s.Name, prefix), c.Enabled, c.SamplingPercent, c.KMSKeyID != "", c.Encryption,
		c.DestinationPublic, c.Retention, c.RetentionDays, c.Immutable, s.Monitored, s.Tier,
		strings.Join(tags, ","), strings.Join(unchecked, ","))
}

// awsClients returns SDK clients for the moto endpoint.
func awsClients(endpoint string) (*sm.Client, *s3.Client) {
	creds := credentials.NewStaticCredentialsProvider(testenv.AccessKeyID, testenv.SecretAccessKey, "")
	smc := sm.New(sm.Options{Region: testenv.Region, BaseEndpoint: aws.String(endpoint), Credentials: creds})
	s3c := s3.New(s3.Options{Region: testenv.Region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true, Credentials: creds,
		DisableLogOutputChecksumValidationSkipped: true})
	return smc, s3c
}

// mustModel creates a model named name.
func mustModel(t *testing.T, ctx context.Context, c *sm.Client, name string) {
	t.Helper()
	if _, err := c.CreateModel(ctx, &sm.CreateModelInput{
		ModelName:        aws.String(name),
		ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/sagemaker"),
		PrimaryContainer: &smtypes.ContainerDefinition{Image: aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1")},
	}); err != nil {
		t.Fatalf("CreateModel %s: %v", name, err)
	}
}

// mustEndpoint creates an endpoint config and an endpoint named name.
func mustEndpoint(t *testing.T, ctx context.Context, c *sm.Client, model, name string, dc *smtypes.DataCaptureConfig, tags map[string]string) {
	t.Helper()
	var tl []smtypes.Tag
	for k, v := range tags {
		tl = append(tl, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	_, err := c.CreateEndpointConfig(ctx, &sm.CreateEndpointConfigInput{
		EndpointConfigName: aws.String(name + "-cfg"),
		ProductionVariants: []smtypes.ProductionVariant{{
			VariantName: aws.String("blue"), ModelName: aws.String(model),
			InstanceType: smtypes.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1),
		}},
		DataCaptureConfig: dc,
	})
	if err != nil {
		t.Fatalf("CreateEndpointConfig %s: %v", name, err)
	}
	if _, err := c.CreateEndpoint(ctx, &sm.CreateEndpointInput{
		EndpointName: aws.String(name), EndpointConfigName: aws.String(name + "-cfg"), Tags: tl,
	}); err != nil {
		t.Fatalf("CreateEndpoint %s: %v", name, err)
	}
}

func capture(enabled bool, pct int32, dest, kms string) *smtypes.DataCaptureConfig {
	dc := &smtypes.DataCaptureConfig{
		EnableCapture:             aws.Bool(enabled),
		InitialSamplingPercentage: aws.Int32(pct),
		DestinationS3Uri:          aws.String(dest),
		CaptureOptions:            []smtypes.CaptureOption{{CaptureMode: smtypes.CaptureModeInput}, {CaptureMode: smtypes.CaptureModeOutput}},
		CaptureContentTypeHeader:  &smtypes.CaptureContentTypeHeader{JsonContentTypes: []string{"application/json"}},
	}
	if kms != "" {
		dc.KmsKeyId = aws.String(kms)
	}
	return dc
}

// ofRun keeps the subjects whose name starts with prefix: the shared moto
// server holds other tests' endpoints too.
func ofRun(subjects []compliance.Subject, prefix string) []compliance.Subject {
	var out []compliance.Subject
	for _, s := range subjects {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func TestAudit_Moto(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	smc, s3c := awsClients(endpoint)

	secure := testenv.UniqueName("gb-sm-secure")
	plain := testenv.UniqueName("gb-sm-plain")
	testenv.CreateBucket(t, endpoint, secure)
	testenv.CreateBucket(t, endpoint, plain)
	if _, err := s3c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
		Bucket: aws.String(secure),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{
				SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(cmkARN),
			},
		}}},
	}); err != nil {
		t.Fatalf("PutBucketEncryption: %v", err)
	}
	if _, err := s3c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
		Bucket: aws.String(secure),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
			BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
		},
	}); err != nil {
		t.Fatalf("PutPublicAccessBlock: %v", err)
	}
	if _, err := s3c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket: aws.String(secure),
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{
			ID: aws.String("expire-capture"), Status: s3types.ExpirationStatusEnabled,
			Filter:     &s3types.LifecycleRuleFilter{Prefix: aws.String("capture/")},
			Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(30)},
		}}},
	}); err != nil {
		t.Fatalf("PutBucketLifecycleConfiguration: %v", err)
	}

	prefix := strings.TrimPrefix(testenv.UniqueName("e"), "e-")[:8] + "-"
	mustModel(t, ctx, smc, prefix+"model")
	full := map[string]string{"owner": "ml", "cost-center": "42", "tier": "gold"}
	mustEndpoint(t, ctx, smc, prefix+"model", prefix+"good", capture(true, 50, "s3://"+secure+"/capture/good", cmkARN), full)
	mustEndpoint(t, ctx, smc, prefix+"model", prefix+"off", capture(false, 50, "s3://"+secure+"/capture/off", cmkARN), full)
	mustEndpoint(t, ctx, smc, prefix+"model", prefix+"none", nil, full)
	mustEndpoint(t, ctx, smc, prefix+"model", prefix+"low", capture(true, 5, "s3://"+secure+"/capture/low", ""), map[string]string{"owner": "ml"})
	mustEndpoint(t, ctx, smc, prefix+"model", prefix+"awskey", capture(true, 20, "s3://"+secure+"/other/awskey", "alias/aws/s3"), full)
	mustEndpoint(t, ctx, smc, prefix+"model", prefix+"plain", capture(true, 100, "s3://"+plain+"/p", ""), nil)

	subjects, stats, err := sagemaker.Audit(ctx, sagemaker.Options{Endpoint: endpoint, PathStyle: true})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	mine := ofRun(subjects, prefix)
	var got []string
	for _, s := range mine {
		got = append(got, compact(s, prefix))
	}
	// moto: DescribeEndpoint lacks CurrentSamplingPercentage and KmsKeyId
	// (the config's values are used), ListMonitoringSchedules is HTTP 500
	// (monitored unknown), and new buckets have no default encryption.
	want := []string{
		"awskey capture=yes sampling=20 kms=true enc=sse-kms public=no retention=no/0 immutable=no monitored=unknown tier=gold tags=cost-center,owner,tier unchecked=monitored",
		"good capture=yes sampling=50 kms=true enc=kms-cmk public=no retention=yes/30 immutable=no monitored=unknown tier=gold tags=cost-center,owner,tier unchecked=monitored",
		"low capture=yes sampling=5 kms=true enc=kms-cmk public=no retention=yes/30 immutable=no monitored=unknown tier=default tags=owner unchecked=monitored",
		"none capture=no sampling=0 kms=false enc= public=unknown retention=unknown/0 immutable=unknown monitored=unknown tier=gold tags=cost-center,owner,tier unchecked=monitored",
		"off capture=no sampling=50 kms=true enc=kms-cmk public=no retention=yes/30 immutable=no monitored=unknown tier=gold tags=cost-center,owner,tier unchecked=monitored",
		"plain capture=yes sampling=100 kms=false enc=none public=no retention=no/0 immutable=no monitored=unknown tier=default tags= unchecked=monitored",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("subjects:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range mine {
		if s.Source != compliance.SourceSageMaker || s.Region != testenv.Region || s.Account == "" || !strings.Contains(s.Resource, ":endpoint/") {
			t.Errorf("%s: source/region/account/resource = %q %q %q %q", s.Name, s.Source, s.Region, s.Account, s.Resource)
		}
		if r := s.Unchecked[sagemaker.FactMonitored]; !strings.HasPrefix(r, "not available: sagemaker:ListMonitoringSchedules: ") {
			t.Errorf("%s: Unchecked[monitored] = %q", s.Name, r)
		}
	}
	// The report over the account: each endpoint's failing and unverified
	// rules, with a tier minimum of 10% (gold: 25%) and the default tags.
	report := compliance.Evaluate(mine, compliance.Settings{
		RequiredTags: []string{"owner", "cost-center"},
		MinSampling:  map[string]float64{"default": 10, "gold": 25},
	})
	byEndpoint := map[string][]string{}
	for _, f := range report.Findings {
		if f.Status == compliance.StatusFail || f.Status == compliance.StatusUnknown {
			name := strings.TrimPrefix(f.Subject.Name, prefix)
			byEndpoint[name] = append(byEndpoint[name], f.RuleID+"="+f.Status)
		}
	}
	var table []string
	for _, s := range mine {
		name := strings.TrimPrefix(s.Name, prefix)
		table = append(table, name+": "+strings.Join(byEndpoint[name], " "))
	}
	wantTable := []string{
		"awskey: GBX-CAP-002=fail GBX-ENC-001=fail GBX-RET-001=fail GBX-MON-001=unknown GBX-ALR-001=unknown GBX-REG-001=unknown",
		"good: GBX-MON-001=unknown GBX-ALR-001=unknown GBX-REG-001=unknown",
		"low: GBX-CAP-002=fail GBX-TAG-001=fail GBX-MON-001=unknown GBX-ALR-001=unknown GBX-REG-001=unknown",
		"none: GBX-CAP-001=fail GBX-MON-001=unknown GBX-ALR-001=unknown GBX-REG-001=unknown",
		"off: GBX-CAP-001=fail GBX-MON-001=unknown GBX-ALR-001=unknown GBX-REG-001=unknown",
		"plain: GBX-ENC-001=fail GBX-RET-001=fail GBX-TAG-001=fail GBX-MON-001=unknown GBX-ALR-001=unknown GBX-REG-001=unknown",
	}
	if strings.Join(table, "\n") != strings.Join(wantTable, "\n") {
		t.Errorf("compliance report:\n got:\n%s\nwant:\n%s", strings.Join(table, "\n"), strings.Join(wantTable, "\n"))
	}

	// Each bucket is checked once, however many endpoints write to it.
	if n := stats.Calls["s3:GetBucketEncryption"]; n != stats.Buckets {
		t.Errorf("GetBucketEncryption calls = %d, buckets = %d", n, stats.Buckets)
	}
	if stats.Endpoints != len(subjects) || stats.CallsPerEndpoint() <= 0 {
		t.Errorf("stats = %+v", stats)
	}
	t.Logf("%d endpoints, %d calls, %.1f calls/endpoint: %v", stats.Endpoints, stats.TotalCalls(), stats.CallsPerEndpoint(), stats.Calls)
}

func TestAudit_MotoPaging(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	smc, _ := awsClients(endpoint)
	prefix := strings.TrimPrefix(testenv.UniqueName("p"), "p-")[:8] + "-"
	mustModel(t, ctx, smc, prefix+"model")
	const n = 23
	for i := range n {
		mustEndpoint(t, ctx, smc, prefix+"model", fmt.Sprintf("%sep%02d", prefix, i), nil, nil)
	}
	subjects, stats, err := sagemaker.Audit(ctx, sagemaker.Options{Endpoint: endpoint, PathStyle: true, PageSize: 5})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if got := len(ofRun(subjects, prefix)); got != n {
		t.Errorf("endpoints of this test = %d, want %d", got, n)
	}
	if pages, min := stats.Calls["sagemaker:ListEndpoints"], (len(subjects)+4)/5; pages < min {
		t.Errorf("ListEndpoints pages = %d, want >= %d", pages, min)
	}
}

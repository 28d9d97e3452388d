package sagemaker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	sm "github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"

	"github.com/glassbox-dev/glassbox/internal/sagemaker"
	"github.com/glassbox-dev/glassbox/internal/testenv"
)

// benchEndpoints is the size of the account BenchmarkAudit200 audits.
const benchEndpoints = 200

// BenchmarkAudit200 audits a moto account holding 200 endpoints (capture on
// with a customer key, off, absent, low sampling without a key, an
// AWS-managed key; tagged or not) writing to 3 buckets (KMS + public access
// block + lifecycle, SSE-S3 + lifecycle, nothing set). The account is built
// once; each iteration is one sagemaker.Audit. Reported: time per audit
// (ns/op), ms/endpoint and calls/endpoint. moto answers on loopback, so on
// real AWS the per-call latency times calls/endpoint dominates.
//
// It needs moto: bash scripts/test.sh -run '^$' -bench BenchmarkAudit200 ./internal/sagemaker/
func BenchmarkAudit200(b *testing.B) {
	endpoint := testenv.Moto(b)
	testenv.AWSEnv(b, endpoint)
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	defer cancel()
	smc, s3c := awsClients(endpoint)

	secure := testenv.UniqueName("gb-bench-secure")
	sses3 := testenv.UniqueName("gb-bench-sses3")
	plain := testenv.UniqueName("gb-bench-plain")
	for _, bk := range []string{secure, sses3, plain} {
		testenv.CreateBucket(b, endpoint, bk)
	}
	benchBucket(b, ctx, s3c, secure, s3types.ServerSideEncryptionAwsKms, cmkARN, true, true)
	benchBucket(b, ctx, s3c, sses3, s3types.ServerSideEncryptionAes256, "", false, true)

	prefix := strings.TrimPrefix(testenv.UniqueName("b"), "b-")[:8] + "-"
	model := prefix + "model"
	if _, err := smc.CreateModel(ctx, &sm.CreateModelInput{
		ModelName:        aws.String(model),
		ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/sagemaker"),
		PrimaryContainer: &smtypes.ContainerDefinition{Image: aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1")},
	}); err != nil {
		b.Fatalf("CreateModel: %v", err)
	}
	full := map[string]string{"owner": "ml", "cost-center": "42", "tier": "gold"}
	buckets := []string{secure, sses3, plain}
	for i := range benchEndpoints {
		dest := fmt.Sprintf("s3://%s/capture/ep%03d", buckets[i%len(buckets)], i)
		var (
			dc   *smtypes.DataCaptureConfig
			tags = full
		)
		switch i % 5 {
		case 0: // capture on, customer key
			dc = capture(true, 50, dest, cmkARN)
		case 1: // capture configured but off
			dc = capture(false, 50, dest, cmkARN)
		case 2: // no DataCaptureConfig at all
			tags = nil
		case 3: // low sampling, no key
			dc = capture(true, 5, dest, "")
			tags = map[string]string{"owner": "ml"}
		case 4: // AWS-managed key
			dc = capture(true, 100, dest, "alias/aws/s3")
		}
		if err := benchEndpoint(ctx, smc, model, fmt.Sprintf("%sep%03d", prefix, i), dc, tags); err != nil {
			b.Fatal(err)
		}
	}

	opts := sagemaker.Options{Endpoint: endpoint, PathStyle: true}
	var stats sagemaker.Stats
	for b.Loop() {
		subjects, st, err := sagemaker.Audit(ctx, opts)
		if err != nil {
			b.Fatalf("Audit: %v", err)
		}
		if got := len(ofRun(subjects, prefix)); got != benchEndpoints {
			b.Fatalf("audited %d endpoints of this benchmark, want %d", got, benchEndpoints)
		}
		stats = st
	}
	// The shared moto may hold other tests' endpoints too: per-endpoint
	// figures divide by what the audit actually read.
	n := float64(stats.Endpoints)
	b.ReportMetric(stats.CallsPerEndpoint(), "calls/endpoint")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/n, "ms/endpoint")
	b.ReportMetric(n, "endpoints")
	b.ReportMetric(float64(stats.Buckets), "buckets")
	b.Logf("%d endpoints, %d buckets, %d calls: %v", stats.Endpoints, stats.Buckets, stats.TotalCalls(), stats.Calls)
}

// benchBucket sets default encryption (sse, with kmsKey when not empty), and
// optionally a full public access block and a 30-day lifecycle rule.
func benchBucket(b *testing.B, ctx context.Context, c *s3.Client, bucket string, sse s3types.ServerSideEncryption, kmsKey string, blockPublic, lifecycle bool) {
	b.Helper()
	def := &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: sse}
	if kmsKey != "" {
		def.KMSMasterKeyID = aws.String(kmsKey)
	}
	if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
		Bucket: aws.String(bucket),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: def,
		}}},
	}); err != nil {
		b.Fatalf("PutBucketEncryption %s: %v", bucket, err)
	}
	if blockPublic {
		if _, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
			Bucket: aws.String(bucket),
			PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
				BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
				BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true),
			},
		}); err != nil {
			b.Fatalf("PutPublicAccessBlock %s: %v", bucket, err)
		}
	}
	if lifecycle {
		if _, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
			Bucket: aws.String(bucket),
			LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{
				ID: aws.String("expire-capture"), Status: s3types.ExpirationStatusEnabled,
				Filter:     &s3types.LifecycleRuleFilter{Prefix: aws.String("capture/")},
				Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(30)},
			}}},
		}); err != nil {
			b.Fatalf("PutBucketLifecycleConfiguration %s: %v", bucket, err)
		}
	}
}

// benchEndpoint creates an endpoint config name+"-cfg" capturing per dc
// (none when nil) and an endpoint name with tags.
func benchEndpoint(ctx context.Context, c *sm.Client, model, name string, dc *smtypes.DataCaptureConfig, tags map[string]string) error {
	var tl []smtypes.Tag
	for k, v := range tags {
		tl = append(tl, smtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := c.CreateEndpointConfig(ctx, &sm.CreateEndpointConfigInput{
		EndpointConfigName: aws.String(name + "-cfg"),
		ProductionVariants: []smtypes.ProductionVariant{{
			VariantName: aws.String("blue"), ModelName: aws.String(model),
			InstanceType: smtypes.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1),
		}},
		DataCaptureConfig: dc,
	}); err != nil {
		return fmt.Errorf("CreateEndpointConfig %s: %w", name, err)
	}
	if _, err := c.CreateEndpoint(ctx, &sm.CreateEndpointInput{
		EndpointName: aws.String(name), EndpointConfigName: aws.String(name + "-cfg"), Tags: tl,
	}); err != nil {
		return fmt.Errorf("CreateEndpoint %s: %w", name, err)
	}
	return nil
}

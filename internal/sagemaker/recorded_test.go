package sagemaker_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/compliance"
	"github.com/glassbox-dev/glassbox/internal/sagemaker"
	"github.com/glassbox-dev/glassbox/internal/testenv"
)

// recorded holds SageMaker responses for the code paths moto 5.2.1 lacks: a
// DescribeEndpoint with the full DataCaptureConfigSummary (CaptureStatus,
// CurrentSamplingPercentage, KmsKeyId) and ListMonitoringSchedules. They
// are hand-written from the SageMaker API reference (awsJson1.1 bodies of
// the documented shapes, timestamps as epoch seconds), not captured from
// AWS. Keyed by "Operation" or "Operation name".
var recorded = map[string]string{
	"ListEndpoints": `{"Endpoints":[
		{"EndpointName":"live-on","EndpointArn":"arn:aws:sagemaker:eu-west-1:111122223333:endpoint/live-on","CreationTime":1795306266.873,"LastModifiedTime":1795306266.873,"EndpointStatus":"InService"},
		{"EndpointName":"live-stopped","EndpointArn":"arn:aws:sagemaker:eu-west-1:111122223333:endpoint/live-stopped","CreationTime":1795306266.873,"LastModifiedTime":1795306266.873,"EndpointStatus":"InService"}]}`,
	"DescribeEndpoint live-on": `{"EndpointName":"live-on","EndpointArn":"arn:aws:sagemaker:eu-west-1:111122223333:endpoint/live-on",
		"EndpointConfigName":"live-on-cfg","EndpointStatus":"InService","CreationTime":1795306266.873,"LastModifiedTime":1795306266.873,
		"DataCaptureConfig":{"EnableCapture":true,"CaptureStatus":"Started","CurrentSamplingPercentage":30,
			"DestinationS3Uri":"s3://rec-bucket/capture","KmsKeyId":"alias/capture"}}`,
	"DescribeEndpoint live-stopped": `{"EndpointName":"live-stopped","EndpointArn":"arn:aws:sagemaker:eu-west-1:111122223333:endpoint/live-stopped",
		"EndpointConfigName":"live-stopped-cfg","EndpointStatus":"InService","CreationTime":1795306266.873,"LastModifiedTime":1795306266.873,
		"DataCaptureConfig":{"EnableCapture":true,"CaptureStatus":"Stopped","CurrentSamplingPercentage":100,
			"DestinationS3Uri":"s3://rec-bucket/stopped","KmsKeyId":"arn:aws:kms:eu-west-1:111122223333:alias/aws/s3"}}`,
	"DescribeEndpointConfig live-on-cfg": `{"EndpointConfigName":"live-on-cfg","EndpointConfigArn":"arn:aws:sagemaker:eu-west-1:111122223333:endpoint-config/live-on-cfg",
		"CreationTime":1795306266.873,"ProductionVariants":[{"VariantName":"blue","ModelName":"m"}],
		"DataCaptureConfig":{"EnableCapture":true,"InitialSamplingPercentage":10,"DestinationS3Uri":"s3://rec-bucket/capture",
			"KmsKeyId":"alias/capture","CaptureOptions":[{"CaptureMode":"InputAndOutput"}]}}`,
	"DescribeEndpointConfig live-stopped-cfg": `{"EndpointConfigName":"live-stopped-cfg","EndpointConfigArn":"arn:aws:sagemaker:eu-west-1:111122223333:endpoint-config/live-stopped-cfg",
		"CreationTime":1795306266.873,"ProductionVariants":[{"VariantName":"blue","ModelName":"m"}],
		"DataCaptureConfig":{"InitialSamplingPercentage":100,"DestinationS3Uri":"s3://rec-bucket/stopped","CaptureOptions":[{"CaptureMode":"Input"}]}}`,
	"ListTags arn:aws:sagemaker:eu-west-1:111122223333:endpoint/live-on": `{"Tags":[{"Key":"tier","Value":"prod"},{"Key":"owner","Value":"fraud"}]}`,
	"ListMonitoringSchedules live-on": `{"MonitoringScheduleSummaries":[{"MonitoringScheduleName":"live-on-dq","MonitoringScheduleArn":"arn:aws:sagemaker:eu-west-1:111122223333:monitoring-schedule/live-on-dq",
		"CreationTime":1795306266.873,"LastModifiedTime":1795306266.873,"MonitoringScheduleStatus":"Scheduled","EndpointName":"live-on","MonitoringType":"DataQuality"}]}`,
	"ListMonitoringSchedules live-stopped": `{"MonitoringScheduleSummaries":[]}`,
}

// recordedServer answers SageMaker's awsJson1.1 protocol from recorded
// (dispatching on X-Amz-Target) and every S3 request with 403 AccessDenied,
// as for a role without S3 permissions. Unknown requests are
// AccessDeniedException.
func recordedServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		if !strings.HasPrefix(target, "SageMaker.") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>r1</RequestId></Error>`)
			return
		}
		op := strings.TrimPrefix(target, "SageMaker.")
		body, _ := io.ReadAll(r.Body)
		key := op
		for _, field := range []string{"EndpointName", "EndpointConfigName", "ResourceArn"} {
			if v := jsonField(string(body), field); v != "" {
				key = op + " " + v
			}
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		resp, ok := recorded[key]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"AccessDeniedException","message":"User is not authorized to perform: sagemaker:`+op+`"}`)
			return
		}
		_, _ = io.WriteString(w, resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// jsonField extracts the string value of "field" from a flat JSON request.
func jsonField(body, field string) string {
	i := strings.Index(body, `"`+field+`":"`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(field)+4:]
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func TestAudit_Recorded(t *testing.T) {
	srv := recordedServer(t)
	testenv.AWSEnv(t, srv.URL)
	subjects, stats, err := sagemaker.Audit(t.Context(), sagemaker.Options{
		Regions: []string{"eu-west-1"}, Endpoint: srv.URL, PathStyle: true, Concurrency: 1,
	})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	var got []string
	for _, s := range subjects {
		got = append(got, compact(s, ""))
	}
	// live-on: the summary's 30% wins over the config's 10%; a customer
	// key on the capture config. live-stopped: CaptureStatus Stopped means
	// capture is off; the AWS-managed alias ARN is sse-kms; ListTags
	// denied. S3 denies everything, so bucket facts are unknown.
	want := []string{
		"live-on capture=yes sampling=30 kms=true enc=kms-cmk public=unknown retention=unknown/0 immutable=unknown monitored=yes tier=prod tags=owner,tier unchecked=capture.destination_public,capture.immutable,capture.retention",
		"live-stopped capture=no sampling=100 kms=true enc=sse-kms public=unknown retention=unknown/0 immutable=unknown monitored=no tier=default tags= unchecked=capture.destination_public,capture.immutable,capture.retention,tags",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("subjects:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(subjects) != 2 {
		t.Fatalf("%d subjects", len(subjects))
	}
	on, stopped := subjects[0], subjects[1]
	if on.Account != "111122223333" || on.Region != "eu-west-1" || on.Source != compliance.SourceSageMaker {
		t.Errorf("live-on: account %q region %q source %q", on.Account, on.Region, on.Source)
	}
	for fact, want := range map[string]string{
		sagemaker.FactDestinationPublic: "could not check: s3:GetPublicAccessBlock: HTTP 403: AccessDenied: Access Denied",
		sagemaker.FactRetention:         "could not check: s3:GetBucketLifecycleConfiguration: HTTP 403: AccessDenied: Access Denied",
		sagemaker.FactImmutable:         "could not check: s3:GetBucketVersioning: HTTP 403: AccessDenied: Access Denied",
	} {
		if got := on.Unchecked[fact]; !strings.HasPrefix(got, want) {
			t.Errorf("Unchecked[%s] = %q, want prefix %q", fact, got, want)
		}
	}
	if got, want := stopped.Unchecked[sagemaker.FactTags], "could not check: sagemaker:ListTags: HTTP 400: AccessDeniedException: User is not authorized"; !strings.HasPrefix(got, want) {
		t.Errorf("Unchecked[tags] = %q, want prefix %q", got, want)
	}
	// One bucket, checked once for both endpoints.
	if stats.Buckets != 1 || stats.Calls["s3:GetPublicAccessBlock"] != 1 {
		t.Errorf("stats = %+v", stats)
	}
}

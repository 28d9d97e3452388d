package iac_test

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/compliance"
	"github.com/glassbox-dev/glassbox/internal/iac"
)

// compact renders a subject as one line for comparison.
func compact(s compliance.Subject) string {
	c := s.Capture
	var tags []string
	for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
		tags = append(tags, k+"="+s.Tags[k])
	}
	return fmt.Sprintf("%s %s:%d name=%s tier=%s tags=[%s] enabled=%s sampling=%g dest=%s enc=%s key=%s public=%s retention=%s/%d immutable=%s",
		s.Resource, filepath.Base(s.File), s.Line, s.Name, s.Tier, strings.Join(tags, ","), c.Enabled, c.SamplingPercent,
		c.Destination, or(c.Encryption, "?"), or(c.KMSKeyID, "-"), c.DestinationPublic, c.Retention, c.RetentionDays, c.Immutable)
}

func or(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// unchecked renders the capture-related Unchecked reasons.
func unchecked(s compliance.Subject) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(s.Unchecked)) {
		if strings.HasPrefix(k, "capture.") {
			out = append(out, k+": "+s.Unchecked[k])
		}
	}
	return out
}

func mustScan(t *testing.T, paths ...string) ([]compliance.Subject, []iac.Problem) {
	t.Helper()
	s, p, err := iac.Scan(paths)
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

func TestScan(t *testing.T) {
	tests := []struct {
		file      string
		want      []string
		unchecked [][]string
	}{
		{
			file: "compliant.yaml",
			want: []string{
				"testdata/compliant.yaml#FraudConfig compliant.yaml:36 name=fraud-prod tier=audit-critical tags=[cost-center=cc-42,owner=${Owner},tier=audit-critical] enabled=yes sampling=100 dest=s3://${CaptureBucket}/capture enc=kms-cmk key=${CaptureKey} public=no retention=yes/90 immutable=yes",
			},
			unchecked: [][]string{nil},
		},
		{
			file: "noncompliant.yaml",
			want: []string{
				"testdata/noncompliant.yaml#NoCapture noncompliant.yaml:10 name=no-capture tier=default tags=[] enabled=no sampling=0 dest= enc=? key=- public=unknown retention=unknown/0 immutable=unknown",
				"testdata/noncompliant.yaml#LowSampling noncompliant.yaml:15 name=LowSampling tier=default tags=[owner=ml-team] enabled=yes sampling=5 dest=s3://open-capture/low enc=sse-s3 key=- public=yes retention=no/0 immutable=no",
				"testdata/noncompliant.yaml#Conditional noncompliant.yaml:25 name=Conditional tier=default tags=[] enabled=unknown sampling=50 dest=s3://${ExternalBucket}/x enc=sse-kms key=alias/aws/sagemaker public=unknown retention=unknown/0 immutable=unknown",
			},
			unchecked: [][]string{
				{"capture.destination_public: no data capture configuration", "capture.encryption: no data capture configuration", "capture.immutable: no data capture configuration", "capture.retention: no data capture configuration"},
				nil,
				{
					"capture.destination: capture bucket ${ExternalBucket} cannot be resolved to a bucket in this file: ExternalBucket is known only at deployment",
					"capture.destination_public: capture bucket ${ExternalBucket} cannot be resolved to a bucket in this file: ExternalBucket is known only at deployment",
					"capture.enabled: EnableCapture: given by Fn::If",
					"capture.immutable: capture bucket ${ExternalBucket} cannot be resolved to a bucket in this file: ExternalBucket is known only at deployment",
					"capture.retention: capture bucket ${ExternalBucket} cannot be resolved to a bucket in this file: ExternalBucket is known only at deployment",
				},
			},
		},
		{
			file: "template.json",
			want: []string{
				"testdata/template.json#Config template.json:12 name=json-cfg tier=default tags=[] enabled=no sampling=20 dest=s3://${Bucket}/json enc=kms-cmk key=arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab public=unknown retention=yes/30 immutable=yes",
			},
			unchecked: [][]string{{"capture.destination_public: public access block not fully enabled; bucket policies and ACLs are not evaluated"}},
		},
		{
			file: "plan.json",
			want: []string{
				"testdata/plan.json#aws_sagemaker_endpoint_configuration.plain plan.json:9 name=plain-cfg tier=default tags=[owner=a] enabled=no sampling=0 dest= enc=? key=- public=unknown retention=unknown/0 immutable=unknown",
				"testdata/plan.json#module.ml.aws_sagemaker_endpoint_configuration.this[0] plan.json:30 name=ml-endpoint tier=audit-critical tags=[cost-center=cc-1,owner=ml,tier=audit-critical] enabled=yes sampling=30 dest=(known after apply) enc=sse-kms key=(known after apply) public=no retention=yes/30 immutable=no",
			},
			unchecked: [][]string{
				{"capture.destination_public: no data capture configuration", "capture.encryption: no data capture configuration", "capture.immutable: no data capture configuration", "capture.retention: no data capture configuration"},
				{"capture.encryption: KMS key is known only after apply"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			subjects, problems := mustScan(t, filepath.Join("testdata", tt.file))
			if len(problems) > 0 {
				t.Fatalf("problems: %v", problems)
			}
			var got []string
			var gotU [][]string
			for _, s := range subjects {
				got = append(got, compact(s))
				gotU = append(gotU, unchecked(s))
				if s.Source != compliance.SourceIaC {
					t.Errorf("%s: source %q", s.Resource, s.Source)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("subjects (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.unchecked, gotU); diff != "" {
				t.Errorf("unchecked (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScan_problems(t *testing.T) {
	subjects, problems := mustScan(t, "testdata/bad")
	if len(subjects) != 0 || len(problems) != 1 || !strings.Contains(problems[0].String(), "broken.yaml") {
		t.Fatalf("walked dir: subjects %d, problems %v; want only broken.yaml", len(subjects), problems)
	}
	_, problems = mustScan(t, "testdata/bad/other.json")
	if len(problems) != 1 || !strings.Contains(problems[0].Message, "neither") {
		t.Fatalf("explicit file: problems %v", problems)
	}
	if _, _, err := iac.Scan([]string{"testdata/missing.yaml"}); err == nil {
		t.Fatal("missing path: no error")
	}
}

func TestScan_directory(t *testing.T) {
	subjects, problems := mustScan(t, "testdata")
	// 7 endpoint configs and the 2 standalone buckets of bucket-only.*.
	if len(subjects) != 9 || len(problems) != 1 {
		t.Fatalf("got %d subjects, %d problems; want 9 and 1", len(subjects), len(problems))
	}
}

// TestScan_standaloneBuckets: a bucket no endpoint configuration captures
// into is a KindBucket subject of its own, evaluated by the storage and tag
// rules only.
func TestScan_standaloneBuckets(t *testing.T) {
	st := compliance.Settings{RequiredTags: []string{"owner"}}
	status := func(r compliance.Report) map[string]string {
		m := map[string]string{}
		for _, f := range r.Findings {
			m[f.RuleID] = f.Status
		}
		return m
	}

	// CloudFormation: no encryption configuration (S3's default SSE-S3),
	// no lifecycle, no public access block.
	subjects, problems := mustScan(t, "testdata/bucket-only.yaml")
	if len(problems) > 0 || len(subjects) != 1 {
		t.Fatalf("subjects = %d, problems = %v; want one bucket", len(subjects), problems)
	}
	s := subjects[0]
	if s.Kind != compliance.KindBucket || s.Name != "LooseCaptureBucket" || s.Line != 4 || s.Tags["owner"] != "ml-platform" {
		t.Errorf("bucket subject = %s kind=%s", compact(s), s.Kind)
	}
	r := compliance.Evaluate(subjects, st)
	want := map[string]string{
		"GBX-CAP-001": compliance.StatusSkipped, "GBX-CAP-002": compliance.StatusSkipped,
		"GBX-ENC-001": compliance.StatusFail, "GBX-PUB-001": compliance.StatusUnknown,
		"GBX-RET-001": compliance.StatusFail, "GBX-TAG-001": compliance.StatusPass,
		"GBX-MON-001": compliance.StatusSkipped, "GBX-ALR-001": compliance.StatusSkipped,
		"GBX-REG-001": compliance.StatusSkipped,
	}
	if diff := cmp.Diff(want, status(r)); diff != "" {
		t.Errorf("CloudFormation bucket findings (-want +got):\n%s", diff)
	}
	if r.Summary.Totals.Endpoints != 0 || r.Summary.Buckets.Buckets != 1 || r.Summary.Buckets.FullyCompliant != 0 {
		t.Errorf("summary = %+v", r.Summary)
	}

	// Terraform: split resources give a customer key, a lifecycle rule and
	// a full public access block.
	subjects, problems = mustScan(t, "testdata/bucket-only.tfplan.json")
	if len(problems) > 0 || len(subjects) != 1 || subjects[0].Kind != compliance.KindBucket || subjects[0].Name != "aws_s3_bucket.loose" {
		t.Fatalf("subjects = %v, problems = %v; want one bucket", subjects, problems)
	}
	r = compliance.Evaluate(subjects, st)
	for id, got := range status(r) {
		if got == compliance.StatusFail || got == compliance.StatusUnknown {
			t.Errorf("%s: %s on a compliant bucket: %v", id, got, r.Findings)
		}
	}
	if r.Summary.Buckets.FullyCompliant != 1 {
		t.Errorf("summary = %+v", r.Summary)
	}

	// A bucket linked as a capture destination stays part of its endpoint.
	subjects, _ = mustScan(t, "testdata/compliant.yaml", "testdata/noncompliant.yaml", "testdata/plan.json")
	for _, s := range subjects {
		if s.Kind != "" {
			t.Errorf("linked fixture bucket reported on its own: %s", compact(s))
		}
	}
}

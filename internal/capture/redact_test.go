package capture_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/redact"
)

// redactor adapts internal/redact to capture.Redactor as cmd/glassbox does.
type redactor struct{ r *redact.Redactor }

func (a redactor) Redact(data []byte, encoding string) ([]byte, []string, error) {
	f := redact.Text
	switch encoding {
	case capture.EncodingCSV:
		f = redact.CSV
	case capture.EncodingJSON:
		f = redact.JSON
	}
	return a.r.Apply(data, f)
}

// failingRedactor fails every payload.
type failingRedactor struct{}

func (failingRedactor) Redact([]byte, string) ([]byte, []string, error) {
	return nil, nil, errors.New("boom")
}

func newRedactor(t *testing.T) capture.Redactor {
	t.Helper()
	r, err := redact.New([]redact.Rule{
		{Detector: redact.Email, Action: redact.Hash},
		{Detector: redact.PaymentCard, Action: redact.Mask},
		{JSONPath: "$.applicant.ssn", Action: redact.Drop},
		{CSVColumn: "3", Action: redact.Mask},
	}, []byte("test-key"))
	if err != nil {
		t.Fatal(err)
	}
	return redactor{r}
}

// TestSpool_redacts proves that clear values never reach the spool's
// segment files nor the uploaded objects, and that the record notes which
// rules fired (not in strict mode).
func TestSpool_redacts(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(map[bool]string{false: "extra", true: "strict"}[strict], func(t *testing.T) {
			root := t.TempDir()
			bucket := newBucketAt(t, root)
			reg := prometheus.NewRegistry()
			opts := spoolOptions(t, reg, nil)
			s := openSpool(t, bucket, opts)
			pol := testPolicy("ep")
			pol.Strict = strict
			pol.Sync = true // written to the segment before Submit returns
			pol.Redactor = newRedactor(t)
			tr := newTracker()
			ex := tr.exchange(pol, "e1", "v", t0, "1,jane@example.com,x,secret-col-3\n")
			ex.OutputContentType = "application/json"
			ex.Output = []byte(`{"applicant": {"ssn": "123-45-6789", "card": "4111 1111 1111 1111"}}`)
			ex.OutputSize = int64(len(ex.Output))
			submit(t, s, ex)
			for _, clear := range []string{"jane@example.com", "secret-col-3", "123-45-6789", "4111 1111 1111 1111"} {
				assertNotOnDisk(t, opts.Dir, clear)
			}
			closeSpool(t, s)
			_, recs := scanAll(t, bucket, capture.Filter{})
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := recs[0]
			in, out := r.CaptureData.EndpointInput.Data, r.CaptureData.EndpointOutput.Data
			if !strings.HasPrefix(in, "1,[HMAC:email:") || !strings.HasSuffix(in, ",x,[REDACTED:field]\n") {
				t.Errorf("input = %q", in)
			}
			if out != `{"applicant": { "card": "[REDACTED:payment_card]"}}` {
				t.Errorf("output = %q", out)
			}
			switch {
			case strict && r.Glassbox != nil:
				t.Errorf("strict record has the glassbox extra")
			case !strict:
				want := []string{"email:hash", "csv_column:3:mask", "payment_card:mask", "json_path:$.applicant.ssn:drop"}
				if !slices.Equal(r.Glassbox.Redactions, want) {
					t.Errorf("redactions = %q, want %q", r.Glassbox.Redactions, want)
				}
			}
			for _, clear := range []string{"jane@example.com", "secret-col-3", "123-45-6789", "4111 1111 1111 1111"} {
				assertNotOnDisk(t, root, clear)
			}
		})
	}
}

func TestSpool_redactionFailureDropsRecord(t *testing.T) {
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	opts := spoolOptions(t, reg, nil)
	s := openSpool(t, bucket, opts)
	async := testPolicy("ep")
	async.Redactor = failingRedactor{}
	sync := testPolicy("ep")
	sync.Sync = true
	sync.Redactor = failingRedactor{}
	tr := newTracker()
	submit(t, s, tr.exchange(async, "a1", "v", t0, "jane@example.com"))
	if err := s.Submit(context.Background(), tr.exchange(sync, "s1", "v", t0, "jane@example.com")); err == nil {
		t.Error("a synchronous record that could not be redacted was acknowledged")
	}
	closeSpool(t, s)
	if _, recs := scanAll(t, bucket, capture.Filter{}); len(recs) != 0 {
		t.Errorf("%d records stored, want none", len(recs))
	}
	labels := map[string]string{"endpoint": "ep", "reason": capture.DropRedactionFailed}
	if got := metricValue(t, reg, "glassbox_capture_records_dropped_total", labels); got != 1 {
		t.Errorf("records_dropped_total{reason=redaction_failed} = %v, want 1", got)
	}
	tr.checkReleasedOnce(t)
	assertNotOnDisk(t, opts.Dir, "jane@example.com")
}

// assertNotOnDisk fails when any file under dir holds s.
func assertNotOnDisk(t *testing.T, dir, s string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s holds %q in clear", path, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

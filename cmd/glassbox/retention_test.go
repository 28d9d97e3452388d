package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/audit"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/digest"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
)

// retentionObject is a capture object of two records of endpoint at hour.
func retentionObject(t *testing.T, endpoint string, hour time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	for i := range 2 {
		r := &capture.Record{
			CaptureData: capture.CaptureData{
				EndpointInput: &capture.Payload{ObservedContentType: "text/csv", Mode: capture.ModeInput, Data: "secret,1,2", Encoding: capture.EncodingCSV},
			},
			EventMetadata: capture.EventMetadata{EventID: fmt.Sprintf("%s-%d-%d", endpoint, hour.Unix(), i), InferenceTime: hour.Format(capture.InferenceTimeLayout)},
			EventVersion:  capture.EventVersion,
			Glassbox:      &capture.Extra{Endpoint: endpoint, Variant: "AllTraffic", Time: hour.Format(time.RFC3339Nano), Status: 200},
		}
		if err := capture.AppendRecord(&buf, r); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestRetention_run runs `glassbox retention run` on a blob store with
// objects on both sides of the boundaries: a dry run first, then the
// sweep, whose actions land in the audit log and the digest chain, then a
// second sweep with nothing left to do.
func TestRetention_run(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "glassbox.yaml")
	yaml := fmt.Sprintf(`storage: {blob: "file://%s", spool: %q, metadata: "sqlite://%s"}
log: {level: error}
endpoints:
  - name: churn
    variants: [{name: AllTraffic, upstream: "http://127.0.0.1:9"}]
    capture: {retention_days: 2, payload_retention_days: 1}
  - name: keep
    variants: [{name: AllTraffic, upstream: "http://127.0.0.1:9"}]
`, data, filepath.Join(dir, "spool"), filepath.Join(dir, "glassbox.db"))
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := file.New(data)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	hour := func(d time.Duration) time.Time { return now.Add(-d - time.Hour) } // ends exactly d ago
	objects := map[string]time.Time{
		"del":    hour(48 * time.Hour),
		"strip":  hour(48 * time.Hour).Add(time.Hour),
		"young":  hour(24 * time.Hour).Add(time.Hour),
		"keep":   hour(400 * 24 * time.Hour),
		"strip2": hour(24 * time.Hour),
	}
	keys := map[string]string{}
	for name, h := range objects {
		ep := "churn"
		if name == "keep" {
			ep = "keep"
		}
		keys[name] = capture.ObjectKey(ep, "AllTraffic", h, name)
		if err := b.Put(t.Context(), keys[name], bytes.NewReader(retentionObject(t, ep, h))); err != nil {
			t.Fatal(err)
		}
	}
	read := func(key string) ([]byte, bool) {
		rc, err := b.Get(context.Background(), key)
		if err != nil {
			return nil, false
		}
		defer rc.Close()
		d, _ := io.ReadAll(rc)
		return d, true
	}
	before := map[string][]byte{}
	for name, k := range keys {
		before[name], _ = read(k)
	}
	at := "--now=" + now.Format(time.RFC3339)

	out, errOut, code := runCLI(t, "retention", "run", "--config", cfgPath, "--dry-run", at)
	if code != 0 {
		t.Fatalf("dry run exit %d: %s", code, errOut)
	}
	for _, want := range []string{"delete  " + keys["del"], "strip   " + keys["strip"], "strip   " + keys["strip2"],
		"retention_days=2", "payload_retention_days=1", "dry run: would delete 1 and strip 2 objects", "nothing changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	for name, k := range keys {
		if got, _ := read(k); !bytes.Equal(got, before[name]) {
			t.Errorf("dry run changed %s", name)
		}
	}

	out, errOut, code = runCLI(t, "retention", "run", "--config", cfgPath, at)
	if code != 0 {
		t.Fatalf("run exit %d: %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "deleted 1 and stripped 2 objects") {
		t.Errorf("run output:\n%s", out)
	}
	if _, ok := read(keys["del"]); ok {
		t.Errorf("%s not deleted", keys["del"])
	}
	for _, name := range []string{"strip", "strip2"} {
		got, _ := read(keys[name])
		if bytes.Contains(got, []byte("secret")) || !bytes.Contains(got, []byte(`"payload_stripped":true`)) {
			t.Errorf("%s not stripped:\n%s", name, got)
		}
	}
	for _, name := range []string{"young", "keep"} {
		if got, _ := read(keys[name]); !bytes.Equal(got, before[name]) {
			t.Errorf("%s changed", name)
		}
	}

	// The audit log: one event per action, by the retention actor.
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	db, err := openMetadata(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	events, err := db.ListAudit(t.Context(), audit.Filter{Actor: retentionActor})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range events {
		got[e.Resource] = e.Action + " " + e.Details
	}
	if len(events) != 3 || !strings.HasPrefix(got["capture-object/"+keys["del"]], "retention.delete endpoint=churn reason=retention_days=2 size=") ||
		!strings.HasPrefix(got["capture-object/"+keys["strip"]], "retention.strip endpoint=churn reason=payload_retention_days=1") {
		t.Errorf("audit events %q", got)
	}

	// The digest chain: the deletion and the rewrites are in churn's digest.
	var digests []byte
	_ = b.List(t.Context(), digest.EndpointPrefix("churn"), func(o objstore.ObjectInfo) error {
		d, _ := read(o.Key)
		digests = append(digests, d...)
		return nil
	})
	for _, name := range []string{"del", "strip", "strip2"} {
		if !bytes.Contains(digests, []byte(keys[name])) {
			t.Errorf("churn's digests do not mention %s", keys[name])
		}
	}

	out, errOut, code = runCLI(t, "retention", "run", "--config", cfgPath, at)
	if code != 0 || !strings.Contains(out, "deleted 0 and stripped 0 objects") || !strings.Contains(out, "2 already stripped") {
		t.Errorf("second run exit %d:\n%s%s", code, out, errOut)
	}
}

func TestRetention_runUsage(t *testing.T) {
	if _, _, code := runCLI(t, "retention", "run"); code != exitUsage {
		t.Errorf("without --config: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := runCLI(t, "retention", "run", "--config", "x.yaml", "--now", "yesterday"); code != exitUsage {
		t.Errorf("bad --now: exit %d, want %d", code, exitUsage)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/s3"
	"github.com/glassbox-dev/glassbox/internal/testenv"
)

const sagemakerFixture = "../../internal/capture/testdata/sagemaker"

// TestCaptures_ReadSageMakerPrefixFromS3 uploads the records a real
// SageMaker endpoint wrote to an S3 bucket (moto) under a "datacapture/"
// prefix and reads them back with 'glassbox captures list' and 'get'.
func TestCaptures_ReadSageMakerPrefixFromS3(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)
	bucketName := testenv.UniqueName("sm")
	testenv.CreateBucket(t, endpoint, bucketName)
	b, err := s3.New(context.Background(), s3.Options{Bucket: bucketName, Prefix: "datacapture", Endpoint: endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	err = filepath.WalkDir(sagemakerFixture, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(sagemakerFixture, path)
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			r, err := capture.DecodeRecord([]byte(line))
			if err != nil {
				return err
			}
			want = append(want, r.EventMetadata.EventID)
		}
		return b.Put(context.Background(), filepath.ToSlash(rel), bytes.NewReader(raw))
	})
	if err != nil || len(want) != 3 {
		t.Fatalf("upload fixture: %v (%d records)", err, len(want))
	}

	var out, errb bytes.Buffer
	args := []string{"captures", "list", "--blob", "s3://" + bucketName + "/datacapture/", "--s3-endpoint", endpoint, "--s3-path-style",
		"--endpoint", "DEMO-xgb-churn-pred-model-monitor-2022-04-18-00-13-16", "--output", "json"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("captures list exited %d: %s", code, errb.String())
	}
	var listed []listedRecord
	if err := json.Unmarshal(out.Bytes(), &listed); err != nil {
		t.Fatalf("captures list --output json is not JSON: %v\n%s", err, out.String())
	}
	var got []string
	for _, l := range listed {
		got = append(got, l.Record.EventMetadata.EventID)
		if !strings.HasPrefix(l.Object, "DEMO-xgb-churn-pred-model-monitor-2022-04-18-00-13-16/AllTraffic/2022/04/18/00/") {
			t.Errorf("object %q, want the SageMaker key layout relative to the prefix", l.Object)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("listed event ids %v, want %v", got, want)
	}

	out.Reset()
	errb.Reset()
	args = []string{"captures", "get", want[1], "--blob", "s3://" + bucketName + "/datacapture", "--s3-endpoint", endpoint, "--s3-path-style"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("captures get exited %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "event id:       "+want[1]) || !strings.Contains(out.String(), "0.3791300654411316") {
		t.Errorf("captures get output lacks the record:\n%s", out.String())
	}
}

// TestServe_CapturesToS3 runs the gateway with an s3:// blob store on moto
// and checks that records land in the bucket in the SageMaker layout under
// the configured prefix.
func TestServe_CapturesToS3(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)
	bucketName := testenv.UniqueName("gb")
	testenv.CreateBucket(t, endpoint, bucketName)
	m := startTestModel(t, echoModel("text/csv"))
	dir := t.TempDir()
	yaml := fmt.Sprintf(`server:
  listen: 127.0.0.1:0
storage:
  blob: s3://%s/capture/
  spool: %s
  s3: {endpoint: %q, path_style: true, sse: aes256}
log: {level: error}
`, bucketName, dir, endpoint) + endpointYAML("s3ep", m.URL, "      durability: sync\n")
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serveInProcess(t, cfg, io.Discard)
	base := "http://" + addr
	ids := map[string]bool{}
	for i := 0; i < 20; i++ {
		resp, _ := post(t, base+"/endpoints/s3ep/invocations", "text/csv", []byte(fmt.Sprintf("%d,1", i)), nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		ids[resp.Header.Get("X-Glassbox-Event-Id")] = true
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	b, err := s3.New(context.Background(), s3.Options{Bucket: bucketName, Prefix: "capture", Endpoint: endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	err = (&capture.Reader{Bucket: b}).Scan(context.Background(), capture.Filter{Endpoint: "s3ep"}, func(key string, r *capture.Record) error {
		if !keyLayout.MatchString(key) {
			t.Errorf("key %q does not follow the layout", key)
		}
		if !ids[r.EventMetadata.EventID] {
			t.Errorf("unexpected or duplicate record %s", r.EventMetadata.EventID)
		}
		delete(ids, r.EventMetadata.EventID)
		found++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 0 {
		t.Errorf("%d acknowledged records missing from s3://%s/capture (found %d)", len(ids), bucketName, found)
	}
	var keys []string
	_ = b.List(context.Background(), "", func(oi objstore.ObjectInfo) error { keys = append(keys, oi.Key); return nil })
	if len(keys) == 0 {
		t.Error("no objects in the bucket")
	}
}

package capture_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// spoolMarker is planted in every field of the records of the spool
// encryption tests; it must not be found anywhere in an encrypted spool.
const spoolMarker = "SPOOL-CLEAR-4111111111111111"

// clearForms returns the forms in which a value could show up in the
// spool: as is, and base64-encoded at each of the three alignments.
func clearForms(v string) [][]byte {
	forms := [][]byte{[]byte(v)}
	for pad := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", pad) + v))
		forms = append(forms, []byte(enc[4:len(enc)-4]))
	}
	return forms
}

// scanFolder fails the test if any file under dir holds one of forms, and
// returns the names of the files it read.
func scanFolder(t *testing.T, dir string, forms [][]byte) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files = append(files, rel)
		for _, f := range forms {
			if i := bytes.Index(data, f); i >= 0 {
				t.Errorf("%s holds %q in clear at offset %d", rel, f, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func markedExchange(tr *tracker, pol *capture.Policy, i int) *capture.Exchange {
	id := fmt.Sprintf("%s-e%d", spoolMarker, i)
	return tr.exchange(pol, id, spoolMarker+"-variant", t0.Add(time.Duration(i)*time.Second),
		strings.Repeat(spoolMarker+",1.5\n", 20))
}

// TestSpoolEncryption_NoClearBytes: with a key provider, records fsynced in
// the spool (sealed segments waiting for an unreachable blob store and the
// active one) hold none of the planted values, in clear or base64, in any
// file of the spool folder; they are uploaded in full once the store is
// back.
func TestSpoolEncryption_NoClearBytes(t *testing.T) {
	bucket := &switchBucket{Bucket: newBucket(t)}
	bucket.failing.Store(true)
	opts := spoolOptions(t, nil, newFakeClock(t0))
	opts.Keys = mustKeyring(t)
	opts.SegmentBytes = 4 << 10 // several sealed segments and an active one
	s := openSpool(t, bucket, opts)
	pol := testPolicy(spoolMarker + "-endpoint")
	pol.Sync = true
	tr := newTracker()
	const n = 12
	for i := range n {
		submit(t, s, markedExchange(tr, pol, i))
	}
	waitFor(t, "a failed upload", func() bool { return bucket.failed.Load() > 0 })
	segs := segmentFiles(t, opts.Dir)
	if len(segs) < 3 {
		t.Fatalf("segment files = %v, want sealed ones and an active one", segs)
	}
	for _, name := range segs {
		data, err := os.ReadFile(filepath.Join(opts.Dir, "segments", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("GBSPOOL2")) {
			t.Errorf("%s starts with %q, want the encrypted segment magic GBSPOOL2", name, data[:min(8, len(data))])
		}
	}
	files := scanFolder(t, opts.Dir, clearForms(spoolMarker))
	if !slices.Contains(files, "ledger.json") {
		t.Errorf("files scanned = %v, want the ledger among them", files)
	}

	bucket.failing.Store(false)
	closeSpool(t, s)
	_, recs := scanAll(t, bucket.Bucket, capture.Filter{})
	if len(recs) != n {
		t.Fatalf("records uploaded = %d, want %d", len(recs), n)
	}
	for _, r := range recs {
		if !strings.Contains(string(r.CaptureData.EndpointInput.Data), spoolMarker) {
			t.Errorf("record %s: input %q was not decrypted", r.EventMetadata.EventID, r.CaptureData.EndpointInput.Data)
		}
	}
	tr.checkReleasedOnce(t)
}

// crashedEncryptedSpool writes n synchronous records through a spool
// encrypted with a keyring at keyring and returns a copy of its folder
// taken before Close (the state a crash leaves).
func crashedEncryptedSpool(t *testing.T, keyring string, n int) string {
	t.Helper()
	k, err := keys.OpenKeyring(keyring, keys.KeyringOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	opts := spoolOptions(t, nil, newFakeClock(t0))
	opts.Keys = k
	bucket := &switchBucket{Bucket: newBucket(t)}
	bucket.failing.Store(true)
	s := openSpool(t, bucket, opts)
	pol := testPolicy("ep")
	pol.Sync = true
	tr := newTracker()
	for i := range n {
		submit(t, s, markedExchange(tr, pol, i))
	}
	crashed := t.TempDir()
	copyFiles(t, opts.Dir, crashed)
	bucket.failing.Store(false)
	closeSpool(t, s)
	return crashed
}

// TestSpoolEncryption_RecoversAfterRestart: an encrypted segment left by a
// crash is read at the next start with the data key unwrapped by a freshly
// opened provider, and uploaded.
func TestSpoolEncryption_RecoversAfterRestart(t *testing.T) {
	keyring := filepath.Join(t.TempDir(), "keyring.json")
	crashed := crashedEncryptedSpool(t, keyring, 5)
	k, err := keys.OpenKeyring(keyring, keys.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bucket := newBucket(t)
	reg := prometheus.NewRegistry()
	opts := spoolOptions(t, reg, nil)
	opts.Dir, opts.Keys = crashed, k
	s := openSpool(t, bucket, opts)
	closeSpool(t, s)
	_, recs := scanAll(t, bucket, capture.Filter{})
	if len(recs) != 5 {
		t.Errorf("records recovered = %d, want 5", len(recs))
	}
	if files := segmentFiles(t, crashed); len(files) != 0 {
		t.Errorf("segment files left = %v", files)
	}
	if got := metricValue(t, reg, "glassbox_spool_torn_records_discarded_total", nil); got != 0 {
		t.Errorf("torn_records_discarded_total = %v, want 0", got)
	}
}

// TestSpoolEncryption_WrongKeyKeepsSegment: an encrypted segment whose key
// cannot be unwrapped (another keyring, or no keys at all) is kept
// byte for byte, counted and reported by Close, while new records still
// flow; with the right keyring it is uploaded.
func TestSpoolEncryption_WrongKeyKeepsSegment(t *testing.T) {
	keyring := filepath.Join(t.TempDir(), "keyring.json")
	crashed := crashedEncryptedSpool(t, keyring, 3)
	segs := segmentFiles(t, crashed)
	if len(segs) != 1 {
		t.Fatalf("segment files = %v, want 1", segs)
	}
	segPath := filepath.Join(crashed, "segments", segs[0])
	before, err := os.ReadFile(segPath)
	if err != nil {
		t.Fatal(err)
	}
	bucket := newBucket(t)
	for name, p := range map[string]keys.Provider{"another keyring": mustKeyring(t), "no keys": nil} {
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			opts := spoolOptions(t, reg, nil)
			opts.Dir, opts.Keys = crashed, p
			s := openSpool(t, bucket, opts)
			if got := metricValue(t, reg, "glassbox_spool_segments_undecryptable", nil); got != 1 {
				t.Errorf("spool_segments_undecryptable = %v, want 1", got)
			}
			submit(t, s, testExchange(testPolicy("other"), "new-"+strings.ReplaceAll(name, " ", "-")))
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			err := s.Close(ctx)
			if err == nil || !strings.Contains(err.Error(), "cannot be decrypted") {
				t.Errorf("Close = %v, want it to report the segment that cannot be decrypted", err)
			}
			after, rerr := os.ReadFile(segPath)
			if rerr != nil || !bytes.Equal(before, after) {
				t.Errorf("the undecryptable segment was changed or removed (%v)", rerr)
			}
		})
	}
	if got := len(objectKeys(t, bucket)); got != 2 {
		t.Errorf("objects = %d, want the 2 new records' objects only", got)
	}

	k, err := keys.OpenKeyring(keyring, keys.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opts := spoolOptions(t, nil, nil)
	opts.Dir, opts.Keys = crashed, k
	s := openSpool(t, bucket, opts)
	closeSpool(t, s)
	_, recs := scanAll(t, bucket, capture.Filter{Endpoint: "ep"})
	if len(recs) != 3 {
		t.Errorf("records of the kept segment uploaded with the right keyring = %d, want 3", len(recs))
	}
	if files := segmentFiles(t, crashed); len(files) != 0 {
		t.Errorf("segment files left = %v", files)
	}
}

// testExchange is an asynchronous exchange with a small body.
func testExchange(pol *capture.Policy, id string) *capture.Exchange {
	return newTracker().exchange(pol, id, "v", t0, "1,2")
}

// TestSpoolEncryption_NoDataKey: when the provider cannot make a data key,
// nothing is written in clear: synchronous records are refused.
func TestSpoolEncryption_NoDataKey(t *testing.T) {
	opts := spoolOptions(t, nil, newFakeClock(t0))
	opts.Keys = failingProvider{mustKeyring(t)}
	s := openSpool(t, newBucket(t), opts)
	pol := testPolicy("ep")
	pol.Sync = true
	err := s.Submit(context.Background(), testExchange(pol, "e1"))
	if err == nil {
		t.Fatal("Submit succeeded without a data key")
	}
	if files := segmentFiles(t, opts.Dir); len(files) != 0 {
		t.Errorf("segment files = %v, want none", files)
	}
	closeSpool(t, s)
}

// discardBucket stores nothing: Put reads the body and drops it.
type discardBucket struct{ objstore.Bucket }

func (discardBucket) Put(_ context.Context, _ string, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// BenchmarkSpoolSubmit measures the writer with a plain and an encrypted
// spool: asynchronous records of ~8 KiB, group commit, uploads discarded.
func BenchmarkSpoolSubmit(b *testing.B) {
	for _, encrypted := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "encrypted"}[encrypted], func(b *testing.B) {
			opts := capture.DefaultSpoolOptions()
			opts.Dir = b.TempDir()
			if encrypted {
				opts.Keys = mustKeyring(b)
			}
			s, err := capture.OpenSpool(discardBucket{newBucket(b)}, opts)
			if err != nil {
				b.Fatal(err)
			}
			pol := testPolicy("ep")
			body := []byte(strings.Repeat("PAYLOAD-1234567890,1.5,2.5\n", 300))
			b.SetBytes(int64(len(body)))
			for i := 0; b.Loop(); i++ {
				ex := &capture.Exchange{Policy: pol, EventID: fmt.Sprint(i), Variant: "v", Time: t0, Status: 200,
					InputContentType: "text/csv", Input: body, InputSize: int64(len(body)),
					HasOutput: true, OutputContentType: "application/json", Output: []byte(`{"p":0.5}`), OutputSize: 9}
				for {
					err := s.Submit(context.Background(), ex)
					if !errors.Is(err, capture.ErrQueueFull) {
						break
					}
					time.Sleep(50 * time.Microsecond)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

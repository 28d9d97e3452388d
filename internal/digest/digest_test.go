package digest_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/digest"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
)

// testKey is a fixed signing key.
func testKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

// clock is a settable fake wall clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// rig is a writer over a local-folder bucket with a fake clock.
type rig struct {
	t      *testing.T
	bucket *file.Bucket
	rec    *digest.RecordingBucket
	state  string
	clock  *clock
	w      *digest.Writer
}

func newRig(t *testing.T, start time.Time, endpoints ...string) *rig {
	t.Helper()
	b, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, bucket: b, rec: digest.NewRecordingBucket(b), state: t.TempDir(), clock: &clock{t: start}}
	r.open(endpoints...)
	return r
}

func (r *rig) open(endpoints ...string) {
	r.t.Helper()
	w, err := digest.Open(digest.Options{
		Bucket: r.bucket, SigningKey: testKey(), StateDir: r.state, Endpoints: endpoints,
		Hashes: r.rec, Now: r.clock.Now,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	r.w = w
}

// store puts an object through the recording bucket and tells the writer.
func (r *rig) store(endpoint, key, body string) {
	r.t.Helper()
	ctx := context.Background()
	if err := r.rec.Put(ctx, key, strings.NewReader(body)); err != nil {
		r.t.Fatal(err)
	}
	if err := r.w.ObjectStored(ctx, endpoint, key); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) tick() {
	r.t.Helper()
	if err := r.w.Tick(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) close() {
	r.t.Helper()
	if err := r.w.Close(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) verify(endpoint string, anchor bool) *digest.Report {
	r.t.Helper()
	o := digest.VerifyOptions{Bucket: r.bucket, Endpoint: endpoint, PublicKey: testKey().Public().(ed25519.PublicKey), Now: r.clock.Now}
	if anchor {
		heads, err := digest.LoadHeads(r.state)
		if err != nil {
			r.t.Fatal(err)
		}
		if h, ok := heads[endpoint]; ok {
			o.Anchor = &h
		}
	}
	rep, err := digest.Verify(context.Background(), o)
	if err != nil {
		r.t.Fatal(err)
	}
	return rep
}

func (r *rig) digestKeys(endpoint string) []string {
	r.t.Helper()
	var keys []string
	if err := r.bucket.List(context.Background(), digest.EndpointPrefix(endpoint), func(oi objstore.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	}); err != nil {
		r.t.Fatal(err)
	}
	return keys
}

func (r *rig) read(key string) []byte {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.bucket.Root(), filepath.FromSlash(key)))
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func (r *rig) write(key string, data []byte) {
	r.t.Helper()
	if err := r.bucket.Put(context.Background(), key, bytes.NewReader(data)); err != nil {
		r.t.Fatal(err)
	}
}

// findings renders a report's findings for failure messages.
func findings(rep *digest.Report) string {
	var b strings.Builder
	for _, h := range rep.Hours {
		for _, f := range h.Findings {
			fmt.Fprintf(&b, "  %s %s %s: %s\n", h.Hour.Format(time.RFC3339), f.Kind, f.Key, f.Detail)
		}
	}
	return b.String()
}

func wantClean(t *testing.T, rep *digest.Report) {
	t.Helper()
	if rep.Failed() {
		t.Fatalf("verification failed:\n%s", findings(rep))
	}
}

func wantKind(t *testing.T, rep *digest.Report, kind digest.Kind) {
	t.Helper()
	if rep.Count(kind) == 0 {
		t.Fatalf("no %s finding; findings:\n%s", kind, findings(rep))
	}
	if kind.Failure() && !rep.Failed() {
		t.Fatalf("%s found but the report did not fail", kind)
	}
}

var t0 = time.Date(2026, 3, 14, 10, 5, 0, 0, time.UTC)

func objKey(ep string, hour time.Time, name string) string {
	return fmt.Sprintf("%s/AllTraffic/%s/%s.jsonl", ep, hour.UTC().Format("2006/01/02/15"), name)
}

func TestSign_ParseRoundTrip(t *testing.T) {
	b := &digest.Body{Format: digest.Format, Endpoint: "ep", Key: digest.Key("ep", t0, 1), Sequence: 1,
		Reason: digest.ReasonStart, StartTime: t0, EndTime: t0,
		Objects: []digest.Object{{Key: "ep/a", Size: 3, SHA256: strings.Repeat("ab", 32)}}}
	data, err := digest.Sign(b, testKey())
	if err != nil {
		t.Fatal(err)
	}
	d, err := digest.ParseDigest(data)
	if err != nil {
		t.Fatal(err)
	}
	pub := testKey().Public().(ed25519.PublicKey)
	if err := d.Verify(pub); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if d.Key != b.Key || len(d.Objects) != 1 || d.Objects[0].Size != 3 {
		t.Errorf("parsed %+v", d.Body)
	}
	t.Run("flipped body byte", func(t *testing.T) {
		bad := bytes.Clone(data)
		i := bytes.Index(bad, []byte(`"size": 3`))
		bad[i+8] = '4'
		d, err := digest.ParseDigest(bad)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Verify(pub); !errors.Is(err, digest.ErrBadSignature) {
			t.Errorf("Verify = %v, want ErrBadSignature", err)
		}
	})
	t.Run("other key", func(t *testing.T) {
		other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey)
		if err := d.Verify(other); !errors.Is(err, digest.ErrUnknownKey) {
			t.Errorf("Verify = %v, want ErrUnknownKey", err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		for _, in := range []string{"", "x", digest.Magic + " ed25519 00 AA==\n{}", string(data[:len(data)-3])} {
			if _, err := digest.ParseDigest([]byte(in)); !errors.Is(err, digest.ErrMalformed) {
				t.Errorf("ParseDigest(%.40q) = %v, want ErrMalformed", in, err)
			}
		}
	})
	t.Run("public key document", func(t *testing.T) {
		doc, err := digest.NewPublicKeyDoc(pub)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []string{doc.PEM, doc.PublicKey, fmt.Sprintf(`{"public_key":%q,"fingerprint":%q}`, doc.PublicKey, doc.Fingerprint)} {
			got, err := digest.ParsePublicKey([]byte(in))
			if err != nil || !got.Equal(pub) {
				t.Errorf("ParsePublicKey(%.30q) = %v, %v", in, got, err)
			}
		}
		if _, err := digest.ParsePublicKey([]byte(fmt.Sprintf(`{"public_key":%q,"fingerprint":"00"}`, doc.PublicKey))); err == nil {
			t.Error("a document with a wrong fingerprint was accepted")
		}
	})
}

func TestWriter_HourWithoutTraffic(t *testing.T) {
	r := newRig(t, t0, "quiet")
	r.tick() // 10:05 start digest
	for _, at := range []string{"10:30", "10:59"} {
		d, _ := time.Parse("15:04", at)
		r.clock.Set(t0.Truncate(24 * time.Hour).Add(time.Duration(d.Hour())*time.Hour + time.Duration(d.Minute())*time.Minute))
		r.tick() // nothing due within the hour
	}
	if n := len(r.digestKeys("quiet")); n != 1 {
		t.Fatalf("%d digests within the first hour, want 1", n)
	}
	r.clock.Set(t0.Truncate(time.Hour).Add(time.Hour + 30*time.Second)) // 11:00:30
	r.tick()
	r.clock.Set(t0.Truncate(time.Hour).Add(2*time.Hour + 30*time.Second)) // 12:00:30
	r.tick()
	keys := r.digestKeys("quiet")
	if len(keys) != 3 {
		t.Fatalf("digests %v, want one in each of hours 10, 11, 12", keys)
	}
	for i, k := range keys {
		if want := fmt.Sprintf("/2026/03/14/%02d/", 10+i); !strings.Contains(k, want) {
			t.Errorf("digest %d is %s, want it in %s", i, k, want)
		}
		d, err := digest.ParseDigest(r.read(k))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Objects) != 0 || d.Sequence != uint64(i+1) {
			t.Errorf("digest %s: %d objects, sequence %d", k, len(d.Objects), d.Sequence)
		}
	}
	r.clock.Set(t0.Truncate(time.Hour).Add(2*time.Hour + 20*time.Minute))
	wantClean(t, r.verify("quiet", true))

	t.Run("an hour skipped is a gap", func(t *testing.T) {
		r.clock.Set(t0.Truncate(time.Hour).Add(4*time.Hour + time.Minute)) // 14:01, no digest at 13
		r.tick()
		r.clock.Set(t0.Truncate(time.Hour).Add(4*time.Hour + 20*time.Minute))
		rep := r.verify("quiet", true)
		wantKind(t, rep, digest.DigestMissing)
		if !strings.Contains(findings(rep), "T13:00:00Z digest_missing") {
			t.Errorf("the gap is not reported at 13:00:\n%s", findings(rep))
		}
	})
}

func TestWriter_ChainSurvivesRestart(t *testing.T) {
	r := newRig(t, t0, "ep")
	r.tick()
	r.store("ep", objKey("ep", t0, "a"), "line a\n")
	r.close()
	r.clock.Set(t0.Add(3 * time.Hour)) // stopped for three hours
	r.open("ep")
	r.store("ep", objKey("ep", t0.Add(3*time.Hour), "b"), "line b\n")
	r.tick()
	r.close()
	keys := r.digestKeys("ep")
	if len(keys) != 4 {
		t.Fatalf("digests %v, want start, shutdown, start, shutdown", keys)
	}
	d, err := digest.ParseDigest(r.read(keys[2]))
	if err != nil {
		t.Fatal(err)
	}
	prev := r.read(keys[1])
	sum := sha256.Sum256(prev)
	if d.Previous == nil || d.Previous.Key != keys[1] || d.Previous.SHA256 != fmt.Sprintf("%x", sum) || d.Sequence != 3 {
		t.Fatalf("digest after restart links %+v (sequence %d), want %s", d.Previous, d.Sequence, keys[1])
	}
	if d.Reason != digest.ReasonStart || len(d.Objects) != 1 {
		t.Errorf("start digest after restart: reason %s, %d objects; want start with the object stored before the tick", d.Reason, len(d.Objects))
	}
	rep := r.verify("ep", true)
	wantClean(t, rep) // the stopped hours are no gap: a shutdown digest precedes them
	if rep.Objects != 2 {
		t.Errorf("%d objects checked, want 2", rep.Objects)
	}
}

func TestWriter_JournalSurvivesCrash(t *testing.T) {
	r := newRig(t, t0, "ep")
	r.tick()
	r.store("ep", objKey("ep", t0, "a"), "line a\n")
	// Crash: the writer is dropped without Close. A new one finds the
	// entry in its journal and lists it in its start digest.
	r.open("ep")
	r.clock.Set(t0.Add(time.Minute))
	r.tick()
	keys := r.digestKeys("ep")
	d, err := digest.ParseDigest(r.read(keys[len(keys)-1]))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Objects) != 1 || d.Objects[0].Key != objKey("ep", t0, "a") {
		t.Fatalf("start digest after a crash lists %+v", d.Objects)
	}
	r.close()
	wantClean(t, r.verify("ep", true))
}

// tamperRig is a chain with objects in two hours and two sessions.
func tamperRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t, t0, "ep")
	r.tick()
	r.store("ep", objKey("ep", t0, "a"), "line a\n")
	r.store("ep", objKey("ep", t0, "b"), "line b\n")
	r.close()
	r.clock.Set(t0.Add(time.Hour))
	r.open("ep")
	r.tick()
	r.store("ep", objKey("ep", t0.Add(time.Hour), "c"), "line c\n")
	r.store("ep", objKey("ep", t0.Add(time.Hour), "d"), "line d\n")
	r.close()
	r.clock.Set(t0.Add(2 * time.Hour))
	wantClean(t, r.verify("ep", true))
	return r
}

func TestVerify_Tampering(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		tamper func(r *rig)
		want   digest.Kind
	}{
		{"modified byte", func(r *rig) { r.write(objKey("ep", t0, "a"), []byte("line A\n")) }, digest.ObjectModified},
		{"truncated", func(r *rig) { r.write(objKey("ep", t0, "a"), []byte("line")) }, digest.ObjectModified},
		{"deleted object", func(r *rig) { _ = r.bucket.Delete(ctx, objKey("ep", t0, "b")) }, digest.ObjectMissing},
		{"foreign object", func(r *rig) { r.write(objKey("ep", t0, "evil"), []byte("evil\n")) }, digest.ObjectAdded},
		{"foreign file anywhere in the folder", func(r *rig) { r.write("ep/notes.txt", []byte("x")) }, digest.ObjectAdded},
		{"moved object", func(r *rig) {
			r.write(objKey("ep", t0, "moved"), r.read(objKey("ep", t0, "a")))
			_ = r.bucket.Delete(ctx, objKey("ep", t0, "a"))
		}, digest.ObjectReordered},
		{"deleted digest", func(r *rig) { _ = r.bucket.Delete(ctx, r.digestKeys("ep")[1]) }, digest.DigestMissing},
		{"deleted newest digest (anchor)", func(r *rig) { _ = r.bucket.Delete(ctx, r.digestKeys("ep")[3]) }, digest.DigestMissing},
		{"corrupt signature", func(r *rig) {
			k := r.digestKeys("ep")[1]
			b := r.read(k)
			i := bytes.IndexByte(b, '\n') - 5
			b[i] ^= 1
			r.write(k, b)
		}, digest.DigestBadSignature},
		{"edited digest body", func(r *rig) {
			k := r.digestKeys("ep")[1]
			r.write(k, bytes.Replace(r.read(k), []byte(`"size": 7`), []byte(`"size": 8`), 1))
		}, digest.DigestBadSignature},
		{"swapped digests", func(r *rig) {
			ks := r.digestKeys("ep")
			a, b := r.read(ks[1]), r.read(ks[2])
			r.write(ks[1], b)
			r.write(ks[2], a)
		}, digest.DigestReordered},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tamperRig(t)
			c.tamper(r)
			rep := r.verify("ep", true)
			t.Logf("findings:\n%s", findings(rep))
			wantKind(t, rep, c.want)
		})
	}
}

func TestWriter_RetentionIsRecorded(t *testing.T) {
	ctx := context.Background()
	r := tamperRig(t)
	r.open("ep")
	del := objKey("ep", t0, "a")
	size, sum, err := digest.HashObject(ctx, r.bucket, del)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.w.RecordDeleted(ctx, "ep", del, size, sum, "retention_days=30"); err != nil {
		t.Fatal(err)
	}
	if err := r.bucket.Delete(ctx, del); err != nil {
		t.Fatal(err)
	}
	rw := objKey("ep", t0, "b")
	oldSize, oldSum, _ := digest.HashObject(ctx, r.bucket, rw)
	r.write(rw, []byte("stripped\n"))
	newSize, newSum, _ := digest.HashObject(ctx, r.bucket, rw)
	if err := r.w.RecordRewritten(ctx, "ep", rw, oldSize, oldSum, newSize, newSum, "payload_retention_days=7"); err != nil {
		t.Fatal(err)
	}
	r.close()
	rep := r.verify("ep", true)
	wantClean(t, rep)
	wantKind(t, rep, digest.ObjectDeleted)
	wantKind(t, rep, digest.ObjectRewritten)
}

func TestVerify_PendingObjectsOfARunningChain(t *testing.T) {
	r := newRig(t, t0, "ep")
	r.tick()
	// Stored after the newest digest, not yet listed: pending, not added.
	r.clock.Set(t0.Add(time.Minute))
	if err := r.bucket.Put(context.Background(), objKey("ep", t0, "late"), strings.NewReader("x\n")); err != nil {
		t.Fatal(err)
	}
	rep := r.verify("ep", true)
	wantClean(t, rep)
	wantKind(t, rep, digest.ObjectPending)
}

func TestRecordingBucket_HashesWhatIsStored(t *testing.T) {
	ctx := context.Background()
	b, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := digest.NewRecordingBucket(b)
	body := strings.Repeat("0123456789", 10000)
	for name, r := range map[string]io.Reader{
		"seekable": strings.NewReader(body),
		"stream":   io.MultiReader(strings.NewReader(body)),
	} {
		if err := rec.Put(ctx, "k/"+name, r); err != nil {
			t.Fatal(err)
		}
		size, sum, ok := rec.Take("k/" + name)
		wantSize, wantSum, err := digest.HashObject(ctx, b, "k/"+name)
		if err != nil || !ok || size != wantSize || sum != wantSum {
			t.Errorf("%s: Take = %d, %x, %v; stored %d, %x", name, size, sum, ok, wantSize, wantSum)
		}
		if _, _, ok := rec.Take("k/" + name); ok {
			t.Errorf("%s: Take twice succeeded", name)
		}
	}
}

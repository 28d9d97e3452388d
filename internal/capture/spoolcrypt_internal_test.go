package capture

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/keys"
)

func itKeyring(tb testing.TB) *keys.Keyring {
	tb.Helper()
	k, err := keys.OpenKeyring(filepath.Join(tb.TempDir(), "keyring.json"), keys.KeyringOptions{Create: true})
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// itEncryptedSegment writes records e1..e3 through an encrypted spool and
// returns the bytes of its one segment file before Close, and its name.
func itEncryptedSegment(t *testing.T, k keys.Provider) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	s := itOpen(t, itBucket(t), SpoolOptions{Dir: dir, Keys: k})
	pol := itPolicy("ep")
	pol.Sync = true
	for _, id := range []string{"e1", "e2", "e3"} {
		if err := s.Submit(context.Background(), itExchange(pol, id, "v", it0)); err != nil {
			t.Fatal(err)
		}
	}
	seqs, err := listSegments(filepath.Join(dir, "segments"))
	if err != nil || len(seqs) != 1 {
		t.Fatalf("segments %v (%v), want 1", seqs, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "segments", segmentName(seqs[0])))
	if err != nil {
		t.Fatal(err)
	}
	itClose(t, s)
	return segmentName(seqs[0]), data
}

// itRecover opens a spool with k on a folder holding the segment file name
// with data, closes it, and returns the ids uploaded, the segment file as
// left, and the torn-tail count and undecryptable-segment gauge.
func itRecover(t *testing.T, k keys.Provider, name string, data []byte) (ids []string, left []byte, torn, held float64) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "segments"), 0o750); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "segments", name)
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	bucket := itBucket(t)
	s := itOpen(t, bucket, SpoolOptions{Dir: dir, Keys: k})
	torn, held = valueOf(t, s.m.tornRecords), valueOf(t, s.m.spoolHeld)
	ctx, cancel := context.WithTimeout(context.Background(), itWait)
	defer cancel()
	_ = s.Close(ctx)
	left, _ = os.ReadFile(path)
	return storedIDs(t, bucket), left, torn, held
}

// TestSpoolEncryption_RecoverTornTail: a crash in the middle of an
// encrypted frame is a torn tail like in a plain segment: cut, counted,
// the whole frames before it uploaded.
func TestSpoolEncryption_RecoverTornTail(t *testing.T) {
	k := itKeyring(t)
	name, data := itEncryptedSegment(t, k)
	if string(data[:8]) != segmentMagicV2 {
		t.Fatalf("segment magic %q", data[:8])
	}
	for _, tc := range []struct {
		name string
		data []byte
		want []string
	}{
		{"intact", data, []string{"e1", "e2", "e3"}},
		{"last frame cut short", data[:len(data)-10], []string{"e1", "e2"}},
		{"garbage after the last frame", append(append([]byte(nil), data...), 7, 0, 0, 0, 1, 2, 3, 4, 5), []string{"e1", "e2", "e3"}},
		{"key frame cut short", data[:segmentHeaderSize+20], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, _, torn, held := itRecover(t, k, name, tc.data)
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Errorf("uploaded (-want +got):\n%s", diff)
			}
			wantTorn := 1.0
			if tc.name == "intact" {
				wantTorn = 0
			}
			if torn != wantTorn || held != 0 {
				t.Errorf("torn, held = %v, %v; want %v, 0", torn, held, wantTorn)
			}
		})
	}
}

// TestSpoolEncryption_AuthFailureHolds: a frame whose checksum is good but
// which fails authentication was not torn by a crash: the segment is held
// unchanged rather than truncated.
func TestSpoolEncryption_AuthFailureHolds(t *testing.T) {
	k := itKeyring(t)
	name, data := itEncryptedSegment(t, k)
	res, err := scanSegmentWith(writeTemp(t, data), func(h segmentHeader, kf keyFrame) (*segmentCipher, error) {
		return unwrapSpoolKey(k, h, kf)
	})
	if err != nil || len(res.records) != 3 || res.torn || res.keyErr != nil {
		t.Fatalf("scan: %d records, torn %v, keyErr %v, err %v", len(res.records), res.torn, res.keyErr, err)
	}
	bad := append([]byte(nil), data...)
	r := res.records[1]
	bad[r.frameOff+5] ^= 1
	binary.LittleEndian.PutUint32(bad[r.frameOff-4:], crc32.Checksum(bad[r.frameOff:r.frameOff+r.frameLen], castagnoli))
	ids, left, torn, held := itRecover(t, k, name, bad)
	if len(ids) != 0 || torn != 0 || held != 1 {
		t.Errorf("uploaded %v, torn %v, held %v; want nothing uploaded, 0, 1", ids, torn, held)
	}
	if string(left) != string(bad) {
		t.Error("the held segment was changed")
	}
}

// TestSpoolEncryption_PlainSegmentsStillRecover: segments of format version
// 1 left by a run without encryption are uploaded by an encrypting spool.
func TestSpoolEncryption_PlainSegmentsStillRecover(t *testing.T) {
	seg := itSegment(3, it0, itFrame("a1", "v", it0), itFrame("a2", "w", it0))
	ids, left, torn, held := itRecover(t, itKeyring(t), segmentName(3), seg)
	if diff := cmp.Diff([]string{"a1", "a2"}, ids); diff != "" || left != nil || torn != 0 || held != 0 {
		t.Errorf("uploaded (-want +got):\n%s\nleft %d bytes, torn %v, held %v", diff, len(left), torn, held)
	}
}

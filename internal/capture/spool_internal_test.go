package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox"
)

// TestSpool_SyncSubmitIsDurable: when a synchronous Submit returns, its
// record is a complete frame in the segment file and has been fsynced.
func TestSpool_SyncSubmitIsDurable(t *testing.T) {
	dir := t.TempDir()
	s := itOpen(t, itBucket(t), SpoolOptions{Dir: dir})
	pol := itPolicy("ep")
	pol.Sync = true
	for i, id := range []string{"e0", "e1", "e2", "e3"} {
		if err := s.Submit(context.Background(), itExchange(pol, id, "v", it0)); err != nil {
			t.Fatalf("Submit(%s): %v", id, err)
		}
		seqs, err := listSegments(filepath.Join(dir, "segments"))
		if err != nil {
			t.Fatal(err)
		}
		if len(seqs) != 1 {
			t.Fatalf("after Submit(%s): segments %v, want 1", id, seqs)
		}
		path := filepath.Join(dir, "segments", segmentName(seqs[0]))
		res, err := scanSegment(path)
		if err != nil {
			t.Fatal(err)
		}
		if res.torn || len(res.records) != i+1 {
			t.Fatalf("after Submit(%s): segment has %d records (torn %v), want %d", id, len(res.records), res.torn, i+1)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		last := res.records[i]
		rec, err := DecodeRecord(data[last.lineOff : last.lineOff+last.lineLen])
		if err != nil {
			t.Fatalf("after Submit(%s): last line: %v", id, err)
		}
		if rec.EventMetadata.EventID != id || last.endpoint != "ep" || last.variant != "v" || !last.time.Equal(it0) {
			t.Errorf("after Submit(%s): last frame is %s of %s/%s at %v", id, rec.EventMetadata.EventID, last.endpoint, last.variant, last.time)
		}
		// One group commit per Submit: each returned only after its fsync.
		if got := valueOf(t, s.m.fsyncs); got != float64(i+1) {
			t.Errorf("after Submit(%s): fsyncs_total = %v, want %d", id, got, i+1)
		}
	}
	itClose(t, s)
}

// TestSpool_RecoverSegments: segments written by hand, as a previous run
// would have left them, are all uploaded, and new segments are numbered
// after them.
func TestSpool_RecoverSegments(t *testing.T) {
	dir := t.TempDir()
	segs := filepath.Join(dir, "segments")
	if err := os.MkdirAll(segs, 0o750); err != nil {
		t.Fatal(err)
	}
	files := map[uint64][]byte{
		3: itSegment(3, it0, itFrame("a1", "v", it0), itFrame("a2", "w", it0), itFrame("a3", "v", it0.Add(time.Hour))),
		4: itSegment(4, it0.Add(time.Minute), itFrame("b1", "v", it0)),
		9: itSegment(9, it0.Add(2*time.Minute), itFrame("c1", "v", it0), itFrame("c2", "v", it0)),
	}
	for seq, b := range files {
		if err := os.WriteFile(filepath.Join(segs, segmentName(seq)), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	// Files that are not segments are left alone.
	for _, name := range []string{"notes.txt", "1.seg", ".probe-123"} {
		if err := os.WriteFile(filepath.Join(segs, name), []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	bucket := itBucket(t)
	s := itOpen(t, bucket, SpoolOptions{Dir: dir})
	if got := valueOf(t, s.m.spoolRecords); got != 6 {
		t.Errorf("spool_records after recovery = %v, want 6", got)
	}
	pol := itPolicy("ep")
	pol.Sync = true
	if err := s.Submit(context.Background(), itExchange(pol, "new", "v", it0)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(segs, segmentName(10))); err != nil {
		t.Errorf("the first new segment is not number 10, after the recovered 9: %v", err)
	}
	itClose(t, s)

	want := []string{"a1", "a2", "a3", "b1", "c1", "c2", "new"}
	if diff := cmp.Diff(want, storedIDs(t, bucket)); diff != "" {
		t.Errorf("records uploaded (-want +got):\n%s", diff)
	}
	left, err := os.ReadDir(segs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{".probe-123", "1.seg", "notes.txt"}, names); diff != "" {
		t.Errorf("files left in the segments folder (-want +got):\n%s", diff)
	}
	l, err := loadLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.NextSegment != 11 || l.UploadedSegments != 4 || l.UploadedRecords != 7 {
		t.Errorf("ledger next_segment, uploaded_segments, uploaded_records = %d, %d, %d; want 11, 4, 7", l.NextSegment, l.UploadedSegments, l.UploadedRecords)
	}
	if got := valueOf(t, s.m.tornRecords); got != 0 {
		t.Errorf("torn_records_discarded_total = %v, want 0", got)
	}
}

// TestSpool_RecoverTornTail: at start, a segment is cut after its last good
// frame, the discarded tail is counted once, and only the good records are
// uploaded.
func TestSpool_RecoverTornTail(t *testing.T) {
	f1, f2, f3 := itFrame("e1", "v", it0), itFrame("e2", "v", it0), itFrame("e3", "w", it0)
	hdr := appendSegmentHeader(nil, segmentHeader{seq: 1, created: it0})
	good := itSegment(1, it0, f1, f2, f3)
	// ends[n] is the offset after the n-th frame of good.
	ends := []int{len(hdr), len(hdr) + len(f1), len(hdr) + len(f1) + len(f2), len(good)}
	upTo := func(n int) int { return ends[n] }
	cloneWith := func(edit func(b []byte) []byte) []byte { return edit(append([]byte(nil), good...)) }
	// withLastFrame replaces f3 by a frame whose payload is p, with a
	// correct checksum.
	withLastFrame := func(p []byte) []byte {
		fr := binary.LittleEndian.AppendUint32(nil, uint32(len(p)))
		fr = binary.LittleEndian.AppendUint32(fr, crc32.Checksum(p, castagnoli))
		return itSegment(1, it0, f1, f2, append(fr, p...))
	}
	all, first2 := []string{"e1", "e2", "e3"}, []string{"e1", "e2"}
	tests := []struct {
		name     string
		data     []byte
		wantIDs  []string
		wantSize int // after OpenSpool; -1: the file is removed
		wantTorn float64
	}{
		{name: "intact", data: good, wantIDs: all, wantSize: len(good)},
		{name: "last frame cut in half", data: good[:len(good)-len(f3)/2], wantIDs: first2, wantSize: upTo(2), wantTorn: 1},
		{name: "last frame header cut", data: good[:upTo(2)+3], wantIDs: first2, wantSize: upTo(2), wantTorn: 1},
		{name: "last frame checksum wrong", data: cloneWith(func(b []byte) []byte { b[len(b)-2] ^= 0x20; return b }), wantIDs: first2, wantSize: upTo(2), wantTorn: 1},
		{name: "last frame length garbage", data: cloneWith(func(b []byte) []byte {
			copy(b[upTo(2):], []byte{0xff, 0xff, 0xff, 0xff})
			return b
		}), wantIDs: first2, wantSize: upTo(2), wantTorn: 1},
		{name: "last frame length past the end", data: cloneWith(func(b []byte) []byte { b[upTo(2)+1]++; return b }), wantIDs: first2, wantSize: upTo(2), wantTorn: 1},
		{name: "last frame length zero", data: cloneWith(func(b []byte) []byte { copy(b[upTo(2):], []byte{0, 0, 0, 0}); return b }), wantIDs: first2, wantSize: upTo(2), wantTorn: 1},
		{name: "unknown payload version", data: withLastFrame(append([]byte{2}, f3[frameHeaderSize+1:]...)), wantIDs: first2, wantSize: upTo(2), wantTorn: 1},
		{name: "payload shorter than its fields", data: withLastFrame([]byte{payloadVersion, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 'e'}), wantIDs: first2, wantSize: upTo(2), wantTorn: 1},
		{name: "zeros after the last frame", data: append(append([]byte(nil), good...), make([]byte, 4096)...), wantIDs: all, wantSize: len(good), wantTorn: 1},
		{name: "middle frame corrupt", data: cloneWith(func(b []byte) []byte { b[upTo(2)-1] ^= 1; return b }), wantIDs: []string{"e1"}, wantSize: upTo(1), wantTorn: 1},
		{name: "header only", data: hdr, wantIDs: nil, wantSize: -1},
		{name: "partial header", data: hdr[:10], wantIDs: nil, wantSize: -1, wantTorn: 1},
		{name: "empty file", data: []byte{}, wantIDs: nil, wantSize: -1, wantTorn: 1},
		{name: "wrong magic", data: cloneWith(func(b []byte) []byte { b[7] = '9'; return b }), wantIDs: nil, wantSize: -1, wantTorn: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "segments", segmentName(1))
			if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.data, 0o640); err != nil {
				t.Fatal(err)
			}
			inner := itBucket(t)
			bucket := &gateBucket{Bucket: inner, open: make(chan struct{})}
			s := itOpen(t, bucket, SpoolOptions{Dir: dir})

			// Uploads wait on the gate: the file is as recovery left it.
			fi, err := os.Stat(path)
			switch {
			case tt.wantSize < 0 && !errors.Is(err, os.ErrNotExist):
				t.Errorf("segment after OpenSpool: %v, want it removed", err)
			case tt.wantSize >= 0 && err != nil:
				t.Errorf("segment after OpenSpool: %v", err)
			case tt.wantSize >= 0 && fi.Size() != int64(tt.wantSize):
				t.Errorf("segment size after OpenSpool = %d, want %d (of %d)", fi.Size(), tt.wantSize, len(tt.data))
			}
			if got := valueOf(t, s.m.tornRecords); got != tt.wantTorn {
				t.Errorf("torn_records_discarded_total = %v, want %v", got, tt.wantTorn)
			}
			if got := valueOf(t, s.m.spoolRecords); got != float64(len(tt.wantIDs)) {
				t.Errorf("spool_records = %v, want %d", got, len(tt.wantIDs))
			}
			if got := valueOf(t, s.m.spoolBytes); got != float64(max(tt.wantSize, 0)) {
				t.Errorf("spool_bytes = %v, want %d", got, max(tt.wantSize, 0))
			}
			close(bucket.open)
			itClose(t, s)

			if diff := cmp.Diff(tt.wantIDs, storedIDs(t, inner)); diff != "" {
				t.Errorf("records uploaded (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("segment after Close: %v, want it removed", err)
			}
			if got := valueOf(t, s.m.tornRecords); got != tt.wantTorn {
				t.Errorf("torn_records_discarded_total after Close = %v, want %v", got, tt.wantTorn)
			}
		})
	}
}

// TestSpool_AnswerWrapsOnce: when a group commit fails, every synchronous
// caller of the group gets the same error, wrapped once.
func TestSpool_AnswerWrapsOnce(t *testing.T) {
	s := &Spool{m: NewMetrics(nil)}
	cause := errors.New("fsync: input/output error")
	pol := itPolicy("ep")
	pol.Sync = true
	var reqs []*spoolReq
	for _, id := range []string{"e1", "e2", "e3"} {
		reqs = append(reqs, &spoolReq{ex: itExchange(pol, id, "v", it0), done: make(chan error, 1)})
	}
	reqs = append(reqs, &spoolReq{ex: itExchange(itPolicy("ep"), "async", "v", it0)}) // no caller to answer
	s.answer(reqs, cause)

	var msgs []string
	for _, r := range reqs[:3] {
		err := <-r.done
		if glassbox.ErrorCode(err) != glassbox.EUnavailable || !errors.Is(err, cause) {
			t.Errorf("%s: answer %v, want code %q wrapping the cause", r.ex.EventID, err, glassbox.EUnavailable)
		}
		msgs = append(msgs, err.Error())
	}
	want := "capture spool could not be synced: " + cause.Error()
	if diff := cmp.Diff([]string{want, want, want}, msgs); diff != "" {
		t.Errorf("error messages (-want +got):\n%s", diff)
	}
	if got := valueOf(t, s.m.rejected.WithLabelValues("ep", DropSpoolError)); got != 3 {
		t.Errorf("rejected_total{reason=spool_error} = %v, want 3", got)
	}
}

func TestLoadLedger(t *testing.T) {
	dir := t.TempDir()
	l, err := loadLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Version != 1 || l.SpoolID == "" || l.NextSegment != 1 {
		t.Errorf("new ledger = %+v, want version 1, a spool id and next segment 1", l)
	}
	l.NextSegment, l.UploadedSegments, l.UploadedRecords = 7, 5, 42
	if err := l.save(dir); err != nil {
		t.Fatal(err)
	}
	again, err := loadLedger(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(l, again); diff != "" {
		t.Errorf("ledger read back (-saved +read):\n%s", diff)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != ledgerName {
		t.Errorf("files after saving the ledger = %v, want only %s", entries, ledgerName)
	}
}

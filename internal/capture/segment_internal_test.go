package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSegmentName(t *testing.T) {
	tests := []struct {
		name    string
		wantSeq uint64
		wantOK  bool
	}{
		{name: segmentName(1), wantSeq: 1, wantOK: true},
		{name: segmentName(1<<64 - 1), wantSeq: 1<<64 - 1, wantOK: true},
		{name: "00000000000000000042.seg", wantSeq: 42, wantOK: true},
		{name: "42.seg"},
		{name: "00000000000000000042.seg.tmp"},
		{name: "00000000000000000042"},
		{name: "0000000000000000004x.seg"},
		{name: "-0000000000000000042.seg"},
		{name: "99999999999999999999.seg"}, // overflows uint64
		{name: ".probe-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, ok := parseSegmentName(tt.name)
			if ok != tt.wantOK || (ok && seq != tt.wantSeq) {
				t.Errorf("parseSegmentName(%q) = %d, %v; want %d, %v", tt.name, seq, ok, tt.wantSeq, tt.wantOK)
			}
		})
	}
}

// writeTemp writes data to a fresh file and returns its path.
func writeTemp(tb testing.TB, data []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), segmentName(1))
	if err := os.WriteFile(path, data, 0o640); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestScanSegment_RoundTrip: scanSegment reads back what appendSegmentHeader
// and appendFrame wrote.
func TestScanSegment_RoundTrip(t *testing.T) {
	type frame struct {
		T                 time.Time
		Endpoint, Variant string
		Line              string
	}
	tests := []struct {
		name   string
		frames []frame
	}{
		{name: "no frames"},
		{name: "one frame", frames: []frame{{it0, "ep", "v", "{}\n"}}},
		{name: "several", frames: []frame{
			{it0, "ep", "AllTraffic", `{"a":1}` + "\n"},
			{time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC), "ép-日本", "", "x\n"},
			{it0.Add(time.Hour), strings.Repeat("e", 0xffff), strings.Repeat("v", 300), strings.Repeat("L", 70_000) + "\n"},
			{it0, "ep", "v", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
			data := appendSegmentHeader(nil, segmentHeader{seq: 77, created: created})
			for _, f := range tt.frames {
				data = appendFrame(data, f.T, f.Endpoint, f.Variant, []byte(f.Line))
			}
			res, err := scanSegment(writeTemp(t, data))
			if err != nil {
				t.Fatal(err)
			}
			if res.torn || res.validEnd != int64(len(data)) {
				t.Errorf("torn %v, validEnd %d; want false, %d", res.torn, res.validEnd, len(data))
			}
			if res.header.seq != 77 || !res.header.created.Equal(created) {
				t.Errorf("header = %+v, want seq 77 created %v", res.header, created)
			}
			var got []frame
			for _, r := range res.records {
				got = append(got, frame{r.time, r.endpoint, r.variant, string(data[r.lineOff : r.lineOff+r.lineLen])})
			}
			if diff := cmp.Diff(tt.frames, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScanSegment_GarbageLengthAllocatesLittle: a torn tail whose length
// field is garbage below maxFramePayload must not make recovery allocate
// that much memory for a file of a few bytes.
func TestScanSegment_GarbageLengthAllocatesLittle(t *testing.T) {
	data := itSegment(1, it0, itFrame("e1", "v", it0))
	data = binary.LittleEndian.AppendUint32(data, maxFramePayload-1)
	data = append(data, "garbage"...)
	path := writeTemp(t, data)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := scanSegment(path)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if !res.torn || len(res.records) != 1 {
		t.Errorf("torn %v, %d records; want true, 1", res.torn, len(res.records))
	}
	const limit = 4 << 20
	if got := after.TotalAlloc - before.TotalAlloc; got > limit {
		t.Errorf("scanning a %d-byte segment allocated %d bytes, want at most %d", len(data), got, limit)
	}
}

// spanFile is the file the spanReader tests read spans of.
var spanFile = []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

func TestSpanReader(t *testing.T) {
	tests := []struct {
		name  string
		spans [][2]int64 // file offset, length
	}{
		{name: "no spans"},
		{name: "one span", spans: [][2]int64{{3, 10}}},
		{name: "whole file", spans: [][2]int64{{0, int64(len(spanFile))}}},
		{name: "gaps", spans: [][2]int64{{0, 5}, {10, 7}, {30, 1}, {40, 22}}},
		{name: "adjacent", spans: [][2]int64{{0, 5}, {5, 5}, {10, 5}}},
		{name: "out of file order and repeated", spans: [][2]int64{{40, 10}, {0, 3}, {40, 10}}},
		{name: "single bytes", spans: [][2]int64{{1, 1}, {3, 1}, {5, 1}, {7, 1}, {9, 1}}},
		{name: "empty spans", spans: [][2]int64{{0, 0}, {4, 6}, {20, 0}, {20, 0}, {30, 4}, {50, 0}}},
	}
	path := writeTemp(t, spanFile)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r := &spanReader{f: f}
			var want []byte
			for _, s := range tt.spans {
				r.add(s[0], s[1])
				want = append(want, spanFile[s[0]:s[0]+s[1]]...)
			}
			if err := iotest.TestReader(r, want); err != nil {
				t.Errorf("iotest.TestReader: %v", err)
			}

			// An S3 client rewinds and reads again on retry, and seeks to
			// the end to learn the length.
			for attempt := range 3 {
				if off, err := r.Seek(0, io.SeekStart); off != 0 || err != nil {
					t.Fatalf("attempt %d: Seek(0, start) = %d, %v", attempt, off, err)
				}
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("attempt %d: read %q, %v; want %q", attempt, got, err, want)
				}
			}
			if n, err := r.Seek(0, io.SeekEnd); n != int64(len(want)) || err != nil {
				t.Errorf("Seek(0, end) = %d, %v; want %d", n, err, len(want))
			}
			for _, s := range []struct {
				off    int64
				whence int
			}{{-1, io.SeekStart}, {int64(len(want)) + 1, io.SeekStart}, {1, io.SeekEnd}, {-int64(len(want)) - 1, io.SeekEnd}, {0, 3}} {
				if _, err := r.Seek(s.off, s.whence); err == nil {
					t.Errorf("Seek(%d, %d) = nil error, want one", s.off, s.whence)
				}
			}
			// A failed Seek leaves the position alone.
			if n, err := r.Seek(0, io.SeekCurrent); n != int64(len(want)) || err != nil {
				t.Errorf("Seek(0, current) after failed seeks = %d, %v; want %d", n, err, len(want))
			}
		})
	}
}

// FuzzScanSegment writes arbitrary bytes as a segment file: scanSegment
// never panics, every record it returns lies within the valid prefix, and
// that prefix is exactly the header and frames the records re-encode to.
func FuzzScanSegment(f *testing.F) {
	good := itSegment(5, it0, itFrame("e1", "v", it0), itFrame("e2", "w", it0.Add(time.Hour)))
	f.Add(good)
	f.Add(good[:len(good)-7])
	f.Add(good[:segmentHeaderSize])
	f.Add(good[:segmentHeaderSize-1])
	f.Add([]byte{})
	f.Add(append(append([]byte(nil), good...), 0xff, 0xff, 0xff, 0x0f, 1, 2, 3, 4, 5))
	f.Add(append(append([]byte(nil), good...), make([]byte, 16)...))
	f.Add(itSegment(1, time.Time{}, appendFrame(nil, time.Unix(0, -1), "", "", nil)))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.seg")
		if err := os.WriteFile(path, data, 0o640); err != nil {
			t.Fatal(err)
		}
		res, err := scanSegment(path)
		if err != nil {
			t.Fatalf("scanSegment: %v", err)
		}
		size := int64(len(data))
		if res.validEnd < 0 || res.validEnd > size {
			t.Fatalf("validEnd %d outside [0, %d]", res.validEnd, size)
		}
		if !res.torn && res.validEnd != size {
			t.Fatalf("not torn, but validEnd %d < size %d", res.validEnd, size)
		}
		if res.validEnd == 0 {
			if len(res.records) != 0 || !res.torn {
				t.Fatalf("no valid header, but %d records, torn %v", len(res.records), res.torn)
			}
			return
		}
		rebuilt := appendSegmentHeader(nil, res.header)
		for i, r := range res.records {
			if r.lineLen < 0 || r.lineOff < segmentHeaderSize+frameHeaderSize || r.lineOff+r.lineLen > res.validEnd {
				t.Fatalf("record %d: line [%d, %d+%d) outside the valid prefix [%d, %d)", i, r.lineOff, r.lineOff, r.lineLen, segmentHeaderSize, res.validEnd)
			}
			rebuilt = appendFrame(rebuilt, r.time, r.endpoint, r.variant, data[r.lineOff:r.lineOff+r.lineLen])
		}
		if !bytes.Equal(rebuilt, data[:res.validEnd]) {
			t.Fatalf("the records re-encode to\n%x\nwant the valid prefix\n%x", rebuilt, data[:res.validEnd])
		}
	})
}

package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// On-disk format of a spool segment (see docs/formats/spool.md):
//
//	header:  magic "GBSPOOL1" | seq uint64 LE | created unix-nanos int64 LE   (24 bytes)
//	frame*:  length uint32 LE | crc32c(payload) uint32 LE | payload[length]
//	payload: version 1 (1 byte) | time unix-nanos int64 LE |
//	         endpoint length uint16 LE | endpoint | variant length uint16 LE | variant |
//	         capture line (JSON + "\n", the rest of the payload)
const (
	segmentMagic      = "GBSPOOL1"
	segmentHeaderSize = 24
	frameHeaderSize   = 8
	payloadVersion    = 1
	// maxFramePayload bounds one record; anything larger in a length field
	// is corruption, not data.
	maxFramePayload = 256 << 20
	segmentSuffix   = ".seg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn reports a frame that is incomplete or fails its checksum.
var errTorn = errors.New("torn or corrupt spool record")

func segmentName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, segmentSuffix) }

// parseSegmentName returns the sequence number of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(base) != 20 {
		return 0, false
	}
	seq, err := strconv.ParseUint(base, 10, 64)
	return seq, err == nil
}

// listSegments returns the sequence numbers of the segment files in dir,
// ascending.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list spool segments: %w", err)
	}
	var seqs []uint64
	for _, e := range entries {
		if seq, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// appendFrame appends one framed record for a capture line.
func appendFrame(dst []byte, t time.Time, endpoint, variant string, line []byte) []byte {
	plen := 1 + 8 + 2 + len(endpoint) + 2 + len(variant) + len(line)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(plen))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // checksum, filled below
	p := len(dst)
	dst = append(dst, payloadVersion)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t.UnixNano()))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(endpoint)))
	dst = append(dst, endpoint...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(variant)))
	dst = append(dst, variant...)
	dst = append(dst, line...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[p:], castagnoli))
	return dst
}

// spoolRecord is a decoded frame: where its line is and what it belongs to.
type spoolRecord struct {
	time              time.Time
	endpoint, variant string
	lineOff, lineLen  int64 // position of the capture line in the file
}

// decodePayload reads the fields of a payload that starts at file offset off.
func decodePayload(p []byte, off int64) (spoolRecord, error) {
	if len(p) < 1+8+2 || p[0] != payloadVersion {
		return spoolRecord{}, fmt.Errorf("%w: unknown payload version", errTorn)
	}
	r := spoolRecord{time: time.Unix(0, int64(binary.LittleEndian.Uint64(p[1:9]))).UTC()}
	i := 9
	for _, dst := range []*string{&r.endpoint, &r.variant} {
		if len(p) < i+2 {
			return spoolRecord{}, fmt.Errorf("%w: short payload", errTorn)
		}
		n := int(binary.LittleEndian.Uint16(p[i:]))
		i += 2
		if len(p) < i+n {
			return spoolRecord{}, fmt.Errorf("%w: short payload", errTorn)
		}
		*dst = string(p[i : i+n])
		i += n
	}
	r.lineOff, r.lineLen = off+int64(i), int64(len(p)-i)
	return r, nil
}

// segmentHeader is the fixed start of a segment file.
type segmentHeader struct {
	seq     uint64
	created time.Time
}

func appendSegmentHeader(dst []byte, h segmentHeader) []byte {
	dst = append(dst, segmentMagic...)
	dst = binary.LittleEndian.AppendUint64(dst, h.seq)
	return binary.LittleEndian.AppendUint64(dst, uint64(h.created.UnixNano()))
}

// scanResult is what reading a segment found.
type scanResult struct {
	header  segmentHeader
	records []spoolRecord
	// validEnd is the offset after the last good frame; torn reports that
	// bytes after it were not a good frame.
	validEnd int64
	torn     bool
}

// scanSegment reads every frame of a segment file, checking lengths and
// checksums, and stops at the first bad or incomplete frame.
func scanSegment(path string) (scanResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return scanResult{}, fmt.Errorf("open spool segment: %w", err)
	}
	defer f.Close()
	var res scanResult
	fi, err := f.Stat()
	if err != nil {
		return scanResult{}, fmt.Errorf("stat spool segment: %w", err)
	}
	size := fi.Size()
	br := bufio.NewReaderSize(f, 256<<10)
	hdr := make([]byte, segmentHeaderSize)
	if _, err := io.ReadFull(br, hdr); err != nil || string(hdr[:8]) != segmentMagic {
		// A crash right after creating the file can leave a short header.
		res.torn = true
		return res, nil
	}
	res.header = segmentHeader{
		seq:     binary.LittleEndian.Uint64(hdr[8:16]),
		created: time.Unix(0, int64(binary.LittleEndian.Uint64(hdr[16:24]))),
	}
	off := int64(segmentHeaderSize)
	res.validEnd = off
	var fh [frameHeaderSize]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(br, fh[:]); err != nil {
			res.torn = err != io.EOF // a partial frame header
			return res, nil
		}
		n := binary.LittleEndian.Uint32(fh[:4])
		if n == 0 || n > maxFramePayload || int64(n) > size-off-frameHeaderSize {
			res.torn = true
			return res, nil
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(br, payload); err != nil {
			res.torn = true
			return res, nil
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(fh[4:]) {
			res.torn = true
			return res, nil
		}
		rec, err := decodePayload(payload, off+frameHeaderSize)
		if err != nil {
			res.torn = true
			return res, nil
		}
		res.records = append(res.records, rec)
		off += frameHeaderSize + int64(n)
		res.validEnd = off
	}
}

// syncDir fsyncs a directory so that entries created or removed in it
// survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// spanReader reads the capture lines of one object group out of a segment
// file as one contiguous stream, without copying them into memory. It is an
// io.ReadSeeker so that an S3 client can retry and set Content-Length.
type spanReader struct {
	f     *os.File
	spans []span // in stream order; start is cumulative
	total int64
	pos   int64
	buf   []byte
}

// span is one capture line: at file offset off, of length n, starting at
// stream offset start.
type span struct{ start, off, n int64 }

func (r *spanReader) add(off, n int64) {
	r.spans = append(r.spans, span{start: r.total, off: off, n: n})
	r.total += n
}

func (r *spanReader) Read(p []byte) (int, error) {
	if r.pos >= r.total {
		return 0, io.EOF
	}
	n := 0
	k := sort.Search(len(r.spans), func(i int) bool { return r.spans[i].start > r.pos }) - 1
	for n < len(p) && k < len(r.spans) {
		// A run of spans that follow each other in the file, separated
		// only by frame headers, is read with one ReadAt.
		within := r.pos - r.spans[k].start
		fileStart := r.spans[k].off + within
		room := int64(len(p) - n)
		j, fileEnd := k, r.spans[k].off+min(r.spans[k].n, within+room)
		took := fileEnd - fileStart
		for took < room && j+1 < len(r.spans) {
			nx := r.spans[j+1]
			if gap := nx.off - (r.spans[j].off + r.spans[j].n); gap < 0 || gap > 64 {
				break
			}
			j++
			c := min(nx.n, room-took)
			fileEnd = nx.off + c
			took += c
		}
		need := int(fileEnd - fileStart)
		if cap(r.buf) < need {
			r.buf = make([]byte, need)
		}
		buf := r.buf[:need]
		if m, err := r.f.ReadAt(buf, fileStart); m < need {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		for q := k; q <= j; q++ {
			sp := r.spans[q]
			from, to := max(sp.off, fileStart), min(sp.off+sp.n, fileEnd)
			c := copy(p[n:], buf[from-fileStart:to-fileStart])
			n += c
			r.pos += int64(c)
		}
		k = j + 1
	}
	return n, nil
}

func (r *spanReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.total
	default:
		return 0, errors.New("spanReader: bad whence")
	}
	if offset < 0 || offset > r.total {
		return 0, errors.New("spanReader: seek out of range")
	}
	r.pos = offset
	return offset, nil
}

// removeSegment deletes a segment file and makes the deletion durable.
func removeSegment(dir string, seq uint64) error {
	if err := os.Remove(filepath.Join(dir, segmentName(seq))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove spool segment: %w", err)
	}
	return syncDir(dir)
}

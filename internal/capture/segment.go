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
//
// An encrypted segment (version 2, spoolcrypt.go) has the magic "GBSPOOL2",
// a key frame right after the header, and record frames whose stored bytes
// are the payload sealed with AES-256-GCM; the CRC covers the sealed bytes.
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
	dst = appendRecordPayload(dst, t, endpoint, variant, line)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[p:], castagnoli))
	return dst
}

// appendRecordPayload appends the payload of a record frame (unframed).
func appendRecordPayload(dst []byte, t time.Time, endpoint, variant string, line []byte) []byte {
	dst = append(dst, payloadVersion)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t.UnixNano()))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(endpoint)))
	dst = append(dst, endpoint...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(variant)))
	dst = append(dst, variant...)
	return append(dst, line...)
}

// spoolRecord is a decoded frame: where its line is and what it belongs to.
type spoolRecord struct {
	time              time.Time
	endpoint, variant string
	lineOff, lineLen  int64 // position of the capture line in the file
	// In an encrypted segment lineOff is the position of the line in the
	// decrypted payload, which is record frame number frame, stored
	// (sealed) at file offset frameOff, frameLen bytes.
	frameOff, frameLen int64
	frame              uint64
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
	seq       uint64
	created   time.Time
	encrypted bool // version 2: a key frame follows
}

func appendSegmentHeader(dst []byte, h segmentHeader) []byte {
	if h.encrypted {
		dst = append(dst, segmentMagicV2...)
	} else {
		dst = append(dst, segmentMagic...)
	}
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
	// An encrypted segment: c opens its frames. keyErr says why it cannot
	// be read (no provider, the key does not unwrap, a frame with a good
	// checksum fails authentication); such a segment is held, never
	// truncated or deleted, and records lists only what was read before.
	c      *segmentCipher
	keyErr error
}

// segmentKeyFunc returns the cipher of an encrypted segment.
type segmentKeyFunc func(segmentHeader, keyFrame) (*segmentCipher, error)

// scanSegment reads every frame of a plain segment file, checking lengths
// and checksums, and stops at the first bad or incomplete frame.
func scanSegment(path string) (scanResult, error) { return scanSegmentWith(path, nil) }

// scanSegmentWith is scanSegment for plain and encrypted segments: key
// (nil: none) gives the cipher of an encrypted one, whose frames are
// decrypted to read their endpoint, variant and time.
func scanSegmentWith(path string, key segmentKeyFunc) (scanResult, error) {
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
	if _, err := io.ReadFull(br, hdr); err != nil || (string(hdr[:8]) != segmentMagic && string(hdr[:8]) != segmentMagicV2) {
		// A crash right after creating the file can leave a short header.
		res.torn = true
		return res, nil
	}
	res.header = segmentHeader{
		seq:       binary.LittleEndian.Uint64(hdr[8:16]),
		created:   time.Unix(0, int64(binary.LittleEndian.Uint64(hdr[16:24]))),
		encrypted: string(hdr[:8]) == segmentMagicV2,
	}
	off := int64(segmentHeaderSize)
	res.validEnd = off
	var fh [frameHeaderSize]byte
	var payload, plain []byte
	if res.header.encrypted {
		// The key frame is written and fsynced with the header; without
		// it the segment holds nothing (validEnd 0: an incomplete header).
		kp, _ := readFrame(br, fh[:], nil, size-off)
		if kp == nil {
			res.torn, res.validEnd = true, 0
			return res, nil
		}
		kf, err := decodeKeyFrame(kp)
		if err != nil {
			res.torn, res.validEnd = true, 0
			return res, nil
		}
		off += frameHeaderSize + int64(len(kp))
		res.validEnd = off
		if key == nil {
			res.keyErr = fmt.Errorf("%w; it was encrypted with %s", errSpoolNoKeys, kf.provider)
			return res, nil
		}
		if res.c, err = key(res.header, kf); err != nil {
			res.keyErr = err
			return res, nil
		}
	}
	for idx := uint64(0); ; idx++ {
		p, end := readFrame(br, fh[:], payload, size-off)
		if p == nil {
			res.torn = !end
			return res, nil
		}
		payload = p
		n := int64(len(p))
		var rec spoolRecord
		var err error
		if res.c == nil {
			rec, err = decodePayload(p, off+frameHeaderSize)
		} else {
			if plain, err = res.c.open(plain[:0], p, idx); err != nil {
				res.keyErr = fmt.Errorf("record frame %d at offset %d has a good checksum but fails authentication (altered, or not written with this segment's key)", idx, off)
				return res, nil
			}
			rec, err = decodePayload(plain, 0)
			rec.frameOff, rec.frameLen, rec.frame = off+frameHeaderSize, n, idx
		}
		if err != nil {
			res.torn = true
			return res, nil
		}
		res.records = append(res.records, rec)
		off += frameHeaderSize + n
		res.validEnd = off
	}
}

// readFrame reads the next frame (left bytes remain in the file) into buf
// and returns its checked payload, or nil: end reports that the file ended
// cleanly before the frame, otherwise the frame is incomplete, has an
// impossible length or fails its checksum.
func readFrame(br *bufio.Reader, fh, buf []byte, left int64) (p []byte, end bool) {
	if _, err := io.ReadFull(br, fh[:frameHeaderSize]); err != nil {
		return nil, err == io.EOF // else a partial frame header
	}
	n := binary.LittleEndian.Uint32(fh[:4])
	if n == 0 || n > maxFramePayload || int64(n) > left-frameHeaderSize {
		return nil, false
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(br, buf); err != nil {
		return nil, false
	}
	if crc32.Checksum(buf, castagnoli) != binary.LittleEndian.Uint32(fh[4:]) {
		return nil, false
	}
	return buf, false
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
//
// For an encrypted segment (c set) each line is read by decrypting its
// frame; the frame last decrypted is kept for the next Read.
type spanReader struct {
	f     *os.File
	spans []span // in stream order; start is cumulative
	total int64
	pos   int64
	buf   []byte

	c      *segmentCipher
	plain  []byte
	opened int // 1 + index of the span whose frame plain holds; 0: none
}

// span is one capture line: at file offset off, of length n, starting at
// stream offset start. In an encrypted segment off is the line's position
// in the decrypted payload of record frame frame, stored at frameOff.
type span struct {
	start, off, n      int64
	frameOff, frameLen int64
	frame              uint64
}

func (r *spanReader) add(off, n int64) {
	r.spans = append(r.spans, span{start: r.total, off: off, n: n})
	r.total += n
}

// addRecord adds the capture line of a scanned record.
func (r *spanReader) addRecord(rec spoolRecord) {
	r.spans = append(r.spans, span{start: r.total, off: rec.lineOff, n: rec.lineLen,
		frameOff: rec.frameOff, frameLen: rec.frameLen, frame: rec.frame})
	r.total += rec.lineLen
}

// line returns the capture line of span k, valid until the next call.
func (r *spanReader) line(k int) ([]byte, error) {
	sp := r.spans[k]
	if r.c == nil {
		if cap(r.buf) < int(sp.n) {
			r.buf = make([]byte, sp.n)
		}
		b := r.buf[:sp.n]
		if _, err := r.f.ReadAt(b, sp.off); err != nil {
			return nil, fmt.Errorf("read spool segment: %w", err)
		}
		return b, nil
	}
	if r.opened != k+1 {
		r.opened = 0
		if cap(r.buf) < int(sp.frameLen) {
			r.buf = make([]byte, sp.frameLen)
		}
		b := r.buf[:sp.frameLen]
		if _, err := r.f.ReadAt(b, sp.frameOff); err != nil {
			return nil, fmt.Errorf("read spool segment: %w", err)
		}
		var err error
		if r.plain, err = r.c.open(r.plain[:0], b, sp.frame); err != nil || int64(len(r.plain)) < sp.off+sp.n {
			return nil, fmt.Errorf("read spool segment: record frame %d fails authentication", sp.frame)
		}
		r.opened = k + 1
	}
	return r.plain[sp.off : sp.off+sp.n], nil
}

func (r *spanReader) Read(p []byte) (int, error) {
	if r.pos >= r.total {
		return 0, io.EOF
	}
	if r.c != nil {
		return r.readSealed(p)
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

// readSealed is Read for an encrypted segment: one frame at a time.
func (r *spanReader) readSealed(p []byte) (int, error) {
	n := 0
	k := sort.Search(len(r.spans), func(i int) bool { return r.spans[i].start > r.pos }) - 1
	for n < len(p) && k < len(r.spans) {
		line, err := r.line(k)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], line[r.pos-r.spans[k].start:])
		n += c
		r.pos += int64(c)
		k++ // p is full unless the rest of span k was copied
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

// Package churngen generates benchmark inputs for the monitor from the
// SageMaker churn training set: churn-like CSV rows, and Data Capture lines
// whose input payload is the same rows without the label, either as one
// JSONL stream or as a folder in the capture object layout.
//
// Everything is deterministic: the same source and count give the same
// bytes, and a shorter output is a prefix of a longer one. The inputs are
// those of shared/reference/monitor-throughput-anchors.md ("Inputs"):
//
//   - source rows repeat cyclically; the first repetition is copied verbatim;
//   - from the second repetition on, each value of the fractional "Mins"
//     columns moves by a jitter in [-0.100, +0.100] drawn from a splitmix64
//     stream, is clamped at 0 and is written with 3 decimals;
//   - capture line i carries CSV row i's 69 features (the label, the first
//     column, is dropped) as one text/csv INPUT payload, a 6-decimal score in
//     [0,1) as the OUTPUT payload, a deterministic UUID-shaped eventId, and an
//     inferenceTime that starts at 2026-11-22T10:00:00Z.
package churngen

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

// Start is the inferenceTime of the first capture line.
var Start = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// Seeds of the three splitmix64 streams: jitter, scores and event ids. They
// are fixed so that every run produces the same bytes.
const (
	jitterSeed = 0x6a09e667f3bcc908
	scoreSeed  = 0xbb67ae8584caa73b
	idSeed     = 0x3c6ef372fe94f82b
)

// maxJitter is the largest jitter, in thousandths.
const maxJitter = 100

// source is the parsed training set.
type source struct {
	header []string
	rows   [][]string
	// jittered lists the columns that receive jitter: those whose name ends
	// in "Mins" (Day, Eve, Night and Intl Mins in the churn data).
	jittered []int
}

// parse reads a CSV file with a header row and at least two columns.
func parse(src []byte) (*source, error) {
	recs, err := csv.NewReader(bytes.NewReader(src)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse source csv: %w", err)
	}
	if len(recs) < 2 || len(recs[0]) < 2 {
		return nil, errors.New("source csv needs a header, at least one row and at least two columns")
	}
	s := &source{header: recs[0], rows: recs[1:]}
	for i, name := range s.header {
		if strings.ContainsAny(name, ",\"\r\n") {
			return nil, fmt.Errorf("source column name %q needs CSV quoting", name)
		}
		if strings.HasSuffix(name, "Mins") {
			s.jittered = append(s.jittered, i)
		}
	}
	for n, row := range s.rows {
		for _, v := range row {
			if strings.ContainsAny(v, ",\"\r\n") {
				return nil, fmt.Errorf("source row %d: value %q needs CSV quoting", n+1, v)
			}
		}
		for _, c := range s.jittered {
			if _, err := strconv.ParseFloat(row[c], 64); err != nil {
				return nil, fmt.Errorf("source row %d column %q: %w", n+1, s.header[c], err)
			}
		}
	}
	return s, nil
}

// splitmix64 is the generator of Steele, Lea and Flood: tiny, fast, and
// good enough for benchmark data.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// rows yields the generated rows, label first. The slice passed to fn is
// reused between calls.
type rows struct {
	src    *source
	jitter splitmix64
	i      int
	row    []string
}

func newRows(src *source) *rows {
	return &rows{src: src, jitter: jitterSeed, row: make([]string, len(src.header))}
}

// next returns row i (counting from 0) and advances.
func (g *rows) next() []string {
	s := g.src
	base := s.rows[g.i%len(s.rows)]
	copy(g.row, base)
	if g.i >= len(s.rows) {
		for _, c := range s.jittered {
			g.row[c] = jitter(base[c], &g.jitter)
		}
	}
	g.i++
	return g.row
}

// jitter moves v by a uniform draw of thousandths in [-maxJitter,
// maxJitter], clamped at 0, and writes it with 3 decimals. Working in
// integer thousandths keeps the output exact.
func jitter(v string, r *splitmix64) string {
	f, _ := strconv.ParseFloat(v, 64) // checked by parse
	milli := int64(math.Round(f*1000)) + int64(r.next()%(2*maxJitter+1)) - maxJitter
	milli = max(milli, 0)
	return fmt.Sprintf("%d.%03d", milli/1000, milli%1000)
}

// WriteCSV writes the header of src (the contents of a CSV file such as
// training-dataset-with-header.csv) and n generated rows to w.
func WriteCSV(w io.Writer, src []byte, n int) error {
	s, err := parse(src)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(strings.Join(s.header, ","))
	bw.WriteByte('\n')
	g := newRows(s)
	for range n {
		for j, v := range g.next() {
			if j > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(v)
		}
		if err := bw.WriteByte('\n'); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// lines produces capture records, one per generated row.
type lines struct {
	rows      *rows
	score, id splitmix64
	perSecond int
	i         int
	rec       capture.Record
	in, out   capture.Payload
}

func newLines(s *source, perSecond int) *lines {
	l := &lines{rows: newRows(s), score: scoreSeed, id: idSeed, perSecond: perSecond}
	l.in = capture.Payload{ObservedContentType: "text/csv", Mode: capture.ModeInput, Encoding: capture.EncodingCSV}
	l.out = capture.Payload{ObservedContentType: "text/csv", Mode: capture.ModeOutput, Encoding: capture.EncodingCSV}
	l.rec = capture.Record{
		CaptureData:  capture.CaptureData{EndpointInput: &l.in, EndpointOutput: &l.out},
		EventVersion: capture.EventVersion,
	}
	return l
}

// next returns the next record and its inference time. The record is
// reused between calls.
func (l *lines) next() (*capture.Record, time.Time) {
	t := Start.Add(time.Duration(l.i/l.perSecond) * time.Second)
	l.i++
	row := l.rows.next()
	l.in.Data = strings.Join(row[1:], ",")
	l.out.Data = fmt.Sprintf("0.%06d", l.score.next()%1_000_000)
	l.rec.EventMetadata = capture.EventMetadata{EventID: uuid(&l.id), InferenceTime: t.Format(capture.InferenceTimeLayout)}
	return &l.rec, t
}

// uuid formats 128 random bits as a version 4 UUID.
func uuid(r *splitmix64) string {
	hi, lo := r.next(), r.next()
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// WriteCapture writes n capture lines built from src (see WriteCSV) to w,
// one second of inferenceTime apart.
func WriteCapture(w io.Writer, src []byte, n int) error {
	s, err := parse(src)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	l := newLines(s, 1)
	var buf bytes.Buffer
	for range n {
		rec, _ := l.next()
		buf.Reset()
		if err := capture.AppendRecord(&buf, rec); err != nil {
			return err
		}
		if _, err := bw.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write capture lines: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write capture lines: %w", err)
	}
	return nil
}

// TreeOptions shape a capture-layout folder.
type TreeOptions struct {
	// Endpoint and Variant name the first two key segments.
	Endpoint, Variant string
	// LinesPerObject caps the lines of one object; an object also ends at
	// each hour boundary, since its key names the hour of all its records.
	LinesPerObject int
	// PerSecond is the number of lines that share one inferenceTime second.
	// With 1, a 10,000-line object is impossible (an hour has 3,600 seconds).
	PerSecond int
}

// DefaultTreeOptions returns objects of up to 10,000 lines at 100 lines a
// second (360,000 lines an hour, 1M lines in under three hours).
func DefaultTreeOptions() TreeOptions {
	return TreeOptions{Endpoint: "churn", Variant: "AllTraffic", LinesPerObject: 10_000, PerSecond: 100}
}

// WriteCaptureTree writes n capture lines built from src as capture objects
// below dir, at keys from capture.ObjectKey, so that capture.Reader (or a
// file:// capture location) reads them as an endpoint's captures. Each
// object is named by the time of its first line and a deterministic id. It
// returns the keys written, in order.
func WriteCaptureTree(dir string, src []byte, n int, opts TreeOptions) ([]string, error) {
	if opts.Endpoint == "" || opts.Variant == "" || opts.LinesPerObject < 1 || opts.PerSecond < 1 {
		return nil, errors.New("capture tree needs an endpoint, a variant, LinesPerObject >= 1 and PerSecond >= 1")
	}
	s, err := parse(src)
	if err != nil {
		return nil, err
	}
	l := newLines(s, opts.PerSecond)
	var keys []string
	var obj bytes.Buffer
	var objHour time.Time
	objLines := 0
	flush := func() error {
		if objLines == 0 {
			return nil
		}
		key := keys[len(keys)-1]
		path := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("write capture object: %w", err)
		}
		// Benchmark inputs are regenerated at will, so a plain write is
		// enough here; product code writes objects through objstore.
		if err := os.WriteFile(path, obj.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write capture object: %w", err)
		}
		obj.Reset()
		objLines = 0
		return nil
	}
	for range n {
		rec, t := l.next()
		if hour := t.Truncate(time.Hour); objLines == opts.LinesPerObject || (objLines > 0 && !hour.Equal(objHour)) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		if objLines == 0 {
			objHour = t.Truncate(time.Hour)
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", len(keys), uint64(len(keys))*0x9e3779b97f4a7c15&0xffffffffffff)
			keys = append(keys, capture.ObjectKey(opts.Endpoint, opts.Variant, t, id))
		}
		if err := capture.AppendRecord(&obj, rec); err != nil {
			return nil, err
		}
		objLines++
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return keys, nil
}

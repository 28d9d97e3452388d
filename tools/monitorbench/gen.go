package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glassbox-dev/glassbox/tools/internal/churngen"
)

// source is the CSV the inputs are generated from.
type source struct {
	data      []byte
	desc      string // for the report
	rows      int
	cols      int
	synthetic bool
}

// loadSource reads path, or builds a synthetic source when path does not
// exist (a checkout without the shared data sets, as in CI).
func loadSource(path string) (*source, error) {
	b, err := os.ReadFile(path)
	synthetic := false
	desc := path
	switch {
	case os.IsNotExist(err):
		b, synthetic = syntheticSource(), true
		desc = "synthetic churn-like source (" + path + " not found; numbers are not comparable with the shared data set's)"
	case err != nil:
		return nil, err
	default:
		if abs, err := filepath.Abs(path); err == nil {
			desc = filepath.Base(abs)
		}
	}
	lines := strings.Split(strings.TrimRight(string(b), "\r\n"), "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("source %s has no data rows", path)
	}
	return &source{data: b, desc: desc, rows: len(lines) - 1, cols: strings.Count(lines[0], ",") + 1, synthetic: synthetic}, nil
}

// syntheticSource is a stand-in for the churn training set with its shape:
// 2,333 rows of 70 columns, a 0/1 label first, four fractional "Mins"
// columns (which churngen jitters), a few integer columns and 0/1 flags.
func syntheticSource() []byte {
	const rows, cols = 2333, 70
	var b bytes.Buffer
	b.WriteString("Churn")
	for c := 1; c < cols; c++ {
		switch {
		case c >= 3 && c <= 6:
			fmt.Fprintf(&b, ",F%d Mins", c)
		default:
			fmt.Fprintf(&b, ",F%d", c)
		}
	}
	b.WriteByte('\n')
	x := uint64(0x9e3779b97f4a7c15)
	next := func(n uint64) uint64 { // xorshift64
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x % n
	}
	for range rows {
		b.WriteString(strconv.FormatUint(next(2), 10))
		for c := 1; c < cols; c++ {
			b.WriteByte(',')
			switch {
			case c >= 3 && c <= 6:
				fmt.Fprintf(&b, "%d.%d", next(300), next(10))
			case c < 10:
				b.WriteString(strconv.FormatUint(next(200), 10))
			default:
				b.WriteString(strconv.FormatUint(next(2), 10))
			}
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// tree is a generated capture tree.
type tree struct {
	root    string
	n       int
	keys    []string
	bytes   int64
	seconds float64 // generation time
}

// genTree writes n capture lines below root in the capture object layout,
// printing progress every 10 seconds.
func genTree(root string, src *source, n int) (*tree, error) {
	logf("generating %d capture lines in %s (about %s)", n, root, fmtBytes(int64(n)*520))
	stop := ticker(func(el time.Duration) {
		objs, size := dirSize(root)
		logf("  generating: %d objects, %s after %v", objs, fmtBytes(size), el.Round(time.Second))
	})
	t0 := time.Now()
	keys, err := churngen.WriteCaptureTree(root, src.data, n, churngen.DefaultTreeOptions())
	stop()
	if err != nil {
		return nil, fmt.Errorf("generate capture tree: %w", err)
	}
	t := &tree{root: root, n: n, keys: keys, seconds: time.Since(t0).Seconds()}
	_, t.bytes = dirSize(root)
	logf("  %d lines in %d objects, %s, generated in %.1fs", n, len(keys), fmtBytes(t.bytes), t.seconds)
	return t, nil
}

// concat writes the tree's objects, in key order, into one JSONL file.
func (t *tree) concat(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	for _, k := range t.keys {
		in, err := os.Open(filepath.Join(t.root, filepath.FromSlash(k)))
		if err != nil {
			f.Close()
			return err
		}
		_, err = io.Copy(f, in)
		in.Close()
		if err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// genCSV writes a churn-like CSV with a header of about size bytes (whole
// rows, at least size) and returns its rows and bytes.
func genCSV(path string, src *source, size int64) (int, int64, error) {
	// Estimate the bytes per row past the first repetition of the source
	// (later rows carry jittered values) from a sample; a shorter output is
	// a prefix of a longer one, so the estimate only sets the row count.
	sample := 4 * src.rows
	var small, large countWriter
	if err := churngen.WriteCSV(&small, src.data, src.rows); err != nil {
		return 0, 0, err
	}
	if err := churngen.WriteCSV(&large, src.data, sample); err != nil {
		return 0, 0, err
	}
	perRow := float64(large.n.Load()-small.n.Load()) / float64(sample-src.rows)
	rows := src.rows
	if rest := size - small.n.Load(); rest > 0 {
		rows += int(float64(rest)/perRow + 1)
	}
	logf("generating a %s CSV (%d rows) in %s", fmtBytes(size), rows, path)
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	cw := &countWriter{w: bufio.NewWriterSize(f, 1<<20)}
	stop := ticker(func(el time.Duration) {
		logf("  generating: %s after %v", fmtBytes(cw.n.Load()), el.Round(time.Second))
	})
	err = churngen.WriteCSV(cw, src.data, rows)
	stop()
	if err == nil {
		err = cw.w.(*bufio.Writer).Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("generate csv: %w", err)
	}
	return rows, cw.n.Load(), nil
}

// countWriter counts the bytes written through it (to w, or discarded).
type countWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	if c.w == nil {
		return len(p), nil
	}
	return c.w.Write(p)
}

// ticker calls fn with the elapsed time every 10 seconds until the
// returned stop function is called.
func ticker(fn func(time.Duration)) (stop func()) {
	t0 := time.Now()
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tk := time.NewTicker(10 * time.Second)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				fn(time.Since(t0))
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// dirSize counts the regular files below root and their bytes.
func dirSize(root string) (int, int64) {
	var n int
	var size int64
	_ = filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n++
			size += info.Size()
		}
		return nil
	})
	return n, size
}

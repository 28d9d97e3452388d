package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// s3Flags are the S3 overrides of commands that take s3:// locations on the
// command line instead of from a config file.
type s3Flags struct{ s3 config.S3 }

func (f *s3Flags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.s3.Endpoint, "s3-endpoint", "", "S3 endpoint URL for s3:// locations (default: AWS_ENDPOINT_URL or AWS)")
	c.Flags().StringVar(&f.s3.Region, "s3-region", "", "S3 region for s3:// locations (default: AWS_REGION)")
	c.Flags().BoolVar(&f.s3.PathStyle, "s3-path-style", false, "path-style S3 addressing (MinIO, moto, most non-AWS stores)")
}

// merge fills unset flags from a config file's storage.s3 section.
func (f *s3Flags) merge(cfg config.S3) config.S3 {
	s := cfg
	if f.s3.Endpoint != "" {
		s.Endpoint = f.s3.Endpoint
	}
	if f.s3.Region != "" {
		s.Region = f.s3.Region
	}
	if f.s3.PathStyle {
		s.PathStyle = true
	}
	return s
}

// locationURL turns a command-line location into a blob URL: s3:// and
// file:// URLs pass through, anything else is a local path.
func locationURL(loc string) (string, error) {
	switch {
	case loc == "":
		return "", fmt.Errorf("empty location")
	case strings.HasPrefix(loc, "s3://"), strings.HasPrefix(loc, "file://"):
		return loc, nil
	case strings.Contains(loc, "://"):
		return "", fmt.Errorf("location %q: want a local path, file:///path or s3://bucket/prefix", loc)
	}
	abs, err := filepath.Abs(loc)
	if err != nil {
		return "", err
	}
	return "file://" + abs, nil
}

// openLocation opens a folder-like location (local folder or S3 prefix) to
// read from, as a bucket rooted there. A local folder must exist.
func openLocation(ctx context.Context, loc string, s3cfg config.S3) (objstore.Bucket, error) {
	return openFolder(ctx, loc, s3cfg, false)
}

// openOutput opens a folder-like location to write to, creating a local
// folder if needed.
func openOutput(ctx context.Context, loc string, s3cfg config.S3) (objstore.Bucket, error) {
	return openFolder(ctx, loc, s3cfg, true)
}

func openFolder(ctx context.Context, loc string, s3cfg config.S3, create bool) (objstore.Bucket, error) {
	u, err := locationURL(loc)
	if err != nil {
		return nil, usageError{err}
	}
	if config.BlobScheme(u) == "file" {
		p, err := config.BlobPath(u)
		if err != nil {
			return nil, err
		}
		if create {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return nil, fmt.Errorf("create %s: %w", p, err)
			}
		} else if st, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such folder", loc)
		} else if err != nil {
			return nil, err
		} else if !st.IsDir() {
			return nil, fmt.Errorf("%s is a file, want a folder", loc)
		}
	}
	return openBucket(ctx, u, s3cfg)
}

// openObject opens one file-like location (a local file or an s3:// object)
// for reading and returns its size when known (-1 otherwise).
func openObject(ctx context.Context, loc string, s3cfg config.S3) (io.ReadCloser, int64, error) {
	if !strings.HasPrefix(loc, "s3://") {
		p := strings.TrimPrefix(loc, "file://")
		f, err := os.Open(p)
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		if st.IsDir() {
			f.Close()
			return nil, 0, fmt.Errorf("%s is a directory, want a file", p)
		}
		return f, st.Size(), nil
	}
	dir, base := path.Split(strings.TrimPrefix(loc, "s3://"))
	if base == "" || dir == "" {
		return nil, 0, usagef("%s: want s3://bucket/key", loc)
	}
	b, err := openBucket(ctx, "s3://"+strings.TrimSuffix(dir, "/"), s3cfg)
	if err != nil {
		return nil, 0, err
	}
	rc, err := b.Get(ctx, base)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", loc, err)
	}
	return rc, -1, nil
}

// progressBar draws a one-line progress indicator on a terminal. A nil
// *progressBar draws nothing, so callers need no checks.
type progressBar struct {
	w     io.Writer
	label string
	total int64 // bytes; 0 when unknown
	start time.Time
	last  time.Time
}

// newProgressBar returns a bar on w when w is a terminal, else nil.
func newProgressBar(w io.Writer, label string, total int64) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	now := time.Now()
	return &progressBar{w: w, label: label, total: total, start: now}
}

// set redraws the bar for n units done, at most ten times a second.
func (p *progressBar) set(n int64, unit string) {
	if p == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(n) / now.Sub(p.start).Seconds()
	if p.total > 0 {
		frac := min(float64(n)/float64(p.total), 1)
		const width = 30
		full := int(frac * width)
		fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% %s/s ", p.label,
			strings.Repeat("=", full), strings.Repeat(" ", width-full), frac*100, humanCount(rate, unit))
		return
	}
	fmt.Fprintf(p.w, "\r%s %s (%s/s) ", p.label, humanCount(float64(n), unit), humanCount(rate, unit))
}

// done clears the bar's line.
func (p *progressBar) done() {
	if p == nil {
		return
	}
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 72))
}

// humanCount formats n with a k/M/G suffix; unit "B" gives bytes.
func humanCount(n float64, unit string) string {
	div, suffix := 1000.0, []string{"", "k", "M", "G", "T"}
	if unit == "B" {
		div, suffix = 1024, []string{"B", "KiB", "MiB", "GiB", "TiB"}
		unit = ""
	}
	i := 0
	for n >= div && i < len(suffix)-1 {
		n /= div
		i++
	}
	if unit != "" {
		unit = " " + unit
	}
	return fmt.Sprintf("%.1f %s%s", n, suffix[i], unit)
}

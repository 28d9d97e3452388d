package capture

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// Filter selects records when scanning. Zero fields match everything.
type Filter struct {
	Endpoint string
	Variant  string
	// Since and Until bound the inference time: Since <= t < Until.
	Since, Until time.Time
}

func (f Filter) prefix() string {
	switch {
	case f.Endpoint != "" && f.Variant != "":
		return f.Endpoint + "/" + f.Variant + "/"
	case f.Endpoint != "":
		return f.Endpoint + "/"
	}
	return ""
}

// hourMatches reports whether an object of the given hour can hold records
// inside the window.
func (f Filter) hourMatches(hour time.Time) bool {
	if !f.Since.IsZero() && !hour.Add(time.Hour).After(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !hour.Before(f.Until) {
		return false
	}
	return true
}

func (f Filter) timeMatches(t time.Time) bool {
	if !f.Since.IsZero() && t.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !t.Before(f.Until) {
		return false
	}
	return true
}

// Reader reads capture objects back from a bucket, whether Glassbox or a
// SageMaker endpoint wrote them.
type Reader struct {
	Bucket objstore.Bucket
}

// Scan calls fn for every record that matches f, object by object in key
// order and line by line within an object. Objects whose key is not in the
// capture layout are skipped; a line that is not a capture record stops the
// scan with an error naming the object and line.
func (r *Reader) Scan(ctx context.Context, f Filter, fn func(key string, rec *Record) error) error {
	return r.scan(ctx, f, nil, fn)
}

// Find returns the record with the given event id and the key of the object
// holding it. It scans every object, so it is slow on large stores; the
// capture index of the control plane answers faster.
func (r *Reader) Find(ctx context.Context, eventID string) (*Record, string, error) {
	var found *Record
	var foundKey string
	errStop := errors.New("stop")
	needle := []byte(`"` + eventID + `"`)
	err := r.scan(ctx, Filter{}, needle, func(key string, rec *Record) error {
		if rec.EventMetadata.EventID == eventID {
			found, foundKey = rec, key
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, "", err
	}
	if found == nil {
		return nil, "", glassbox.Errorf(glassbox.ENotFound, "no capture record has event id %q", eventID)
	}
	return found, foundKey, nil
}

func (r *Reader) scan(ctx context.Context, f Filter, needle []byte, fn func(string, *Record) error) error {
	return r.Bucket.List(ctx, f.prefix(), func(oi objstore.ObjectInfo) error {
		info, err := ParseObjectKey(oi.Key)
		if err != nil {
			return nil // not a capture object
		}
		if (f.Variant != "" && info.Variant != f.Variant) || !f.hourMatches(info.Hour) {
			return nil
		}
		return r.scanObject(ctx, oi.Key, f, needle, fn)
	})
}

func (r *Reader) scanObject(ctx context.Context, key string, f Filter, needle []byte, fn func(string, *Record) error) error {
	rc, err := r.Bucket.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("open capture object %s: %w", key, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			// Not a partial line to decode: a read or decryption error.
			return fmt.Errorf("read capture object %s: %w", key, err)
		}
		if len(bytes.TrimSpace(line)) > 0 && (needle == nil || bytes.Contains(line, needle)) {
			rec, derr := DecodeRecord(line)
			if derr != nil {
				return fmt.Errorf("%s line %d: %w", key, n, derr)
			}
			if t, _ := rec.Time(); f.timeMatches(t) {
				if err := fn(key, rec); err != nil {
					return err
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read capture object %s: %w", key, err)
		}
	}
}

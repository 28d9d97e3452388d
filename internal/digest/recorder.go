package digest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// maxRecorded bounds the hashes a RecordingBucket keeps for keys nobody
// asked about (objects other than capture objects written through it).
const maxRecorded = 4096

// RecordingBucket is an objstore.Bucket decorator that computes the size
// and SHA-256 of the bytes each Put hands to the wrapped bucket, so the
// digest lists what the store holds. Install it directly over the store
// (below an encrypting decorator): the hash is then over the ciphertext,
// and a verifier needs no keys to check it.
//
// Get, List and Delete pass through. It is safe for concurrent use.
type RecordingBucket struct {
	b objstore.Bucket

	mu    sync.Mutex
	sums  map[string]stored
	order []string // keys in sums, oldest first, for eviction
}

type stored struct {
	size int64
	sum  [32]byte
}

var _ objstore.Bucket = (*RecordingBucket)(nil)

// NewRecordingBucket wraps b.
func NewRecordingBucket(b objstore.Bucket) *RecordingBucket {
	return &RecordingBucket{b: b, sums: map[string]stored{}}
}

// Put stores r under key through the wrapped bucket and remembers the size
// and SHA-256 of what it read, until Take claims them.
func (r *RecordingBucket) Put(ctx context.Context, key string, body io.Reader) error {
	var s stored
	if rs, ok := body.(io.ReadSeeker); ok {
		// A seekable body may be read more than once by the store (an S3
		// client computes a checksum, then sends, then maybe retries), so
		// hashing what flows by would be wrong: hash it in a pass of its
		// own, then hand it over from where it was.
		if start, err := rs.Seek(0, io.SeekCurrent); err == nil {
			h := sha256.New()
			n, err := io.Copy(h, rs)
			if err != nil {
				return fmt.Errorf("put %s: hash the body: %w", key, err)
			}
			if _, err := rs.Seek(start, io.SeekStart); err != nil {
				return fmt.Errorf("put %s: rewind the body: %w", key, err)
			}
			if err := r.b.Put(ctx, key, rs); err != nil {
				return err
			}
			s.size = n
			h.Sum(s.sum[:0])
			r.remember(key, s)
			return nil
		}
	}
	hr := &hashingReader{r: body, h: sha256.New()}
	if err := r.b.Put(ctx, key, hr); err != nil {
		return err
	}
	s.size = hr.n
	hr.h.Sum(s.sum[:0])
	r.remember(key, s)
	return nil
}

// remember keeps the hash of the last Put of key for Take.
func (r *RecordingBucket) remember(key string, s stored) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sums[key]; !ok {
		r.order = append(r.order, key)
	}
	r.sums[key] = s
	for len(r.order) > maxRecorded {
		delete(r.sums, r.order[0])
		r.order = r.order[1:]
	}
}

// Take returns and forgets the size and SHA-256 of the last successful Put
// of key; ok is false when there was none (or it was evicted).
func (r *RecordingBucket) Take(key string) (size int64, sum [32]byte, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sums[key]
	if !ok {
		return 0, sum, false
	}
	delete(r.sums, key)
	for i, k := range r.order {
		if k == key {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	return s.size, s.sum, true
}

// Get opens the stored object.
func (r *RecordingBucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	return r.b.Get(ctx, key)
}

// List lists the wrapped bucket.
func (r *RecordingBucket) List(ctx context.Context, prefix string, fn func(objstore.ObjectInfo) error) error {
	return r.b.List(ctx, prefix, fn)
}

// Delete deletes from the wrapped bucket.
func (r *RecordingBucket) Delete(ctx context.Context, key string) error {
	return r.b.Delete(ctx, key)
}

// String describes the wrapped bucket.
func (r *RecordingBucket) String() string { return r.b.String() }

// hashingReader hashes and counts what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 {
		h.h.Write(p[:n])
		h.n += int64(n)
	}
	return n, err
}

// HashObject reads the object stored under key and returns its size and
// SHA-256.
func HashObject(ctx context.Context, b objstore.Bucket, key string) (int64, [32]byte, error) {
	var sum [32]byte
	rc, err := b.Get(ctx, key)
	if err != nil {
		return 0, sum, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return 0, sum, err
	}
	h.Sum(sum[:0])
	return n, sum, nil
}

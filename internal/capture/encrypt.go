package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// contentTypeJSONL is recorded in the header of encrypted capture objects.
const contentTypeJSONL = "application/x-ndjson"

// EncryptingBucket is an objstore.Bucket that encrypts chosen objects on Put
// and decrypts any encrypted object on Get (docs/formats/encrypted-object.md),
// so that every reader of captures works on encrypted stores unchanged.
//
// List and Delete pass through: List reports the stored (encrypted) size.
type EncryptingBucket struct {
	b       objstore.Bucket
	p       keys.Provider
	encrypt func(key string) bool
}

var _ objstore.Bucket = (*EncryptingBucket)(nil)

// NewEncryptingBucket wraps b. Put encrypts the objects for which encrypt
// returns true (nil encrypts none) with a fresh data key from p; Get
// decrypts every object that starts with the encrypted-object magic. p may
// be nil when no key provider is configured: Put then fails for chosen
// keys, and Get fails on encrypted objects with a message saying so.
//
// EndpointOf gives the endpoint an object key belongs to, for an encrypt
// function that decides per endpoint.
func NewEncryptingBucket(b objstore.Bucket, p keys.Provider, encrypt func(key string) bool) objstore.Bucket {
	return &EncryptingBucket{b: b, p: p, encrypt: encrypt}
}

// EndpointOf returns the endpoint name of a capture object key: its first
// segment.
func EndpointOf(key string) string {
	ep, _, _ := strings.Cut(key, "/")
	return ep
}

// Put stores the bytes of r under key, encrypted when the key is chosen.
// The plaintext streams through the encryption into the wrapped bucket's
// Put; a Bucket that needs the whole body (S3) buffers the ciphertext.
func (e *EncryptingBucket) Put(ctx context.Context, key string, r io.Reader) error {
	if e.encrypt == nil || !e.encrypt(key) {
		return e.b.Put(ctx, key, r)
	}
	if e.p == nil {
		return fmt.Errorf("put %s: encryption is on for this endpoint but no key provider is configured", key)
	}
	if err := objstore.ValidateKey(key); err != nil { // before asking for a data key
		return fmt.Errorf("put: %w", err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := encryptTo(ctx, e.p, pw, r)
		_ = pw.CloseWithError(err) // nil closes with io.EOF
		done <- err
	}()
	err := e.b.Put(ctx, key, pr)
	_ = pr.CloseWithError(errors.New("put returned")) // unblocks the encryption if Put stopped reading
	encErr := <-done
	if err != nil {
		return err
	}
	if encErr != nil {
		// The store saw an error from the reader, so it kept nothing.
		return fmt.Errorf("put %s: %w", key, encErr)
	}
	return nil
}

// encryptTo writes r encrypted to w.
func encryptTo(ctx context.Context, p keys.Provider, w io.Writer, r io.Reader) error {
	ew, err := keys.EncryptWith(ctx, p, w, keys.EncryptOptions{ContentType: contentTypeJSONL})
	if err != nil {
		return err
	}
	if _, err := io.Copy(ew, r); err != nil {
		return fmt.Errorf("encrypt: read plaintext: %w", err)
	}
	return ew.Close()
}

// Get opens the object under key and, when it is encrypted, returns a
// reader of its plaintext. Errors met in the header (keys.ErrWrongKey,
// keys.ErrCorrupt, ...) are returned by Get and name the key; errors met
// while reading chunks (keys.ErrCorrupt, keys.ErrTruncated) are returned by
// Read, and the caller names the object. No unauthenticated byte is ever
// returned.
func (e *EncryptingBucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := e.b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(rc, 64<<10)
	head, err := br.Peek(8)
	if err != nil && err != io.EOF {
		_ = rc.Close()
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if !keys.IsEncrypted(head) {
		return readCloser{Reader: br, Closer: rc}, nil
	}
	if e.p == nil {
		_ = rc.Close()
		return nil, fmt.Errorf("get %s: the object is encrypted and no key provider is configured (set keys: in the config)", key)
	}
	pr, err := keys.Decrypt(ctx, e.p, br)
	if err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return readCloser{Reader: pr, Closer: rc}, nil
}

// List lists the wrapped bucket; sizes are those of the stored objects.
func (e *EncryptingBucket) List(ctx context.Context, prefix string, fn func(objstore.ObjectInfo) error) error {
	return e.b.List(ctx, prefix, fn)
}

// Delete deletes from the wrapped bucket.
func (e *EncryptingBucket) Delete(ctx context.Context, key string) error {
	return e.b.Delete(ctx, key)
}

// String returns the wrapped bucket's String: callers use it as the
// store's URL (report URIs), so the provider is not added.
func (e *EncryptingBucket) String() string { return e.b.String() }

type readCloser struct {
	io.Reader
	io.Closer
}

// Package objstore declares the blob-store port: the Bucket interface that the
// capture pipeline writes objects to and every reader lists and reads them
// from. Implementations live in subpackages (file, and s3 later) and all pass
// the shared contract suite in objstoretest.
//
// This package imports only the standard library and the root vocabulary.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotFound is returned (possibly wrapped) by Get and Delete when no object
// has the given key.
var ErrNotFound = errors.New("object not found")

// ErrInvalidKey is returned (possibly wrapped) when a key is empty, absolute,
// contains "." or ".." segments, empty segments, or a backslash or NUL byte.
var ErrInvalidKey = errors.New("invalid object key")

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string    // full key relative to the bucket root, "/"-separated
	Size    int64     // bytes
	ModTime time.Time // last modification time as reported by the store
}

// Bucket is a flat key/value store of immutable objects addressed by
// "/"-separated keys relative to the bucket's root (the prefix in the blob URL
// is part of the bucket, not of the keys).
//
// Implementations must be safe for concurrent use.
type Bucket interface {
	// Put stores the bytes read from r under key, replacing any object with
	// that key. The object becomes visible atomically and durably: once Put
	// returns nil a reader sees the whole object or, before that, nothing.
	Put(ctx context.Context, key string, r io.Reader) error

	// Get opens the object stored under key. It returns an error wrapping
	// ErrNotFound when there is none. The caller must close the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, error)

	// List calls fn for every object whose key starts with prefix, in
	// ascending lexical key order. A prefix of "" lists everything. Listing
	// stops at the first error fn returns, and List returns that error.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// Delete removes the object stored under key. It returns an error
	// wrapping ErrNotFound when there is none.
	Delete(ctx context.Context, key string) error

	// String describes the bucket for logs and messages, e.g.
	// "file:///var/lib/glassbox/data".
	String() string
}

// MaxKeyLen is the longest key, in bytes, that ValidateKey accepts. It matches
// the S3 limit on object key length.
const MaxKeyLen = 1024

// ValidateKey reports whether key is a well-formed object key. It returns an
// error wrapping ErrInvalidKey when key is empty, longer than MaxKeyLen bytes,
// not valid UTF-8, starts with "/", contains a backslash or NUL byte, or has
// an empty, "." or ".." segment (so "a//b" and "a/" are rejected).
//
// Every Bucket implementation calls it before touching the store, so a valid
// key can always be mapped to a path below the bucket's root.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("validate key: %w: empty", ErrInvalidKey)
	}
	return validatePath("key", key, key)
}

// ValidatePrefix reports whether prefix is a well-formed List prefix. The rules
// are those of ValidateKey, except that the empty prefix (list everything) is
// allowed and the prefix may end with "/" (list one "folder"). The last segment
// may be partial ("x/y/2022-0"), but it may not be "." or "..".
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return validatePath("prefix", prefix, strings.TrimSuffix(prefix, "/"))
}

// validatePath checks s, a key or prefix (what names which, for messages),
// whose segments are those of segs: s itself for a key, s without its
// trailing "/" for a prefix.
func validatePath(what, s, segs string) error {
	fail := func(reason string) error {
		return fmt.Errorf("validate %s %q: %w: %s", what, s, ErrInvalidKey, reason)
	}
	switch {
	case len(s) > MaxKeyLen:
		// Do not quote a huge string into the message.
		return fmt.Errorf("validate %s: %w: longer than %d bytes", what, ErrInvalidKey, MaxKeyLen)
	case !utf8.ValidString(s):
		return fail("not valid UTF-8")
	case strings.HasPrefix(s, "/"):
		return fail("starts with /")
	case strings.ContainsRune(s, '\\'):
		return fail("contains a backslash")
	case strings.ContainsRune(s, 0):
		return fail("contains a NUL byte")
	}
	for seg := range strings.SplitSeq(segs, "/") {
		switch seg {
		case "":
			return fail("empty segment")
		case ".", "..":
			return fail(fmt.Sprintf("%q segment", seg))
		}
	}
	return nil
}

// Package keys is Glassbox's envelope-encryption port: the Provider interface
// that hands out and unwraps per-object data keys and derives stable
// secrets, the local keyring Provider (a file of versioned 256-bit keys),
// and the encrypted-object format (chunked AES-256-GCM, specified byte by
// byte in docs/formats/encrypted-object.md) with a streaming Encrypt and
// Decrypt.
//
// Providers backed by a remote key service live in subpackages (kms).
//
// This package imports the standard library only (rank 1 of the import
// ladder); it knows nothing about capture, buckets or configuration files.
package keys

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// DataKeySize is the size in bytes of every data key and secret: 256 bits.
const DataKeySize = 32

// Provider hands out data keys and unwraps them again. Implementations must
// be safe for concurrent use.
type Provider interface {
	// NewDataKey returns a fresh 32-byte AES key and its wrapped form. The
	// wrapped form is opaque to callers and carries whatever the provider
	// needs to unwrap it later (key id, key version).
	NewDataKey(ctx context.Context) (plain, wrapped []byte, err error)

	// Unwrap returns the data key that wrapped protects. It returns an
	// error wrapping ErrWrongKey when this provider cannot unwrap it: the
	// key version is unknown, the key is not the configured one, or the
	// wrapped bytes fail authentication.
	Unwrap(ctx context.Context, wrapped []byte) ([]byte, error)

	// Secret returns a stable 32-byte secret for purpose (for example
	// "redact-hmac" or "digest-ed25519"): the same across restarts and key
	// rotations, different for different purposes.
	Secret(ctx context.Context, purpose string) ([]byte, error)

	// Name identifies the provider and its key for messages and for the
	// header of encrypted objects: "local:<keyring path>" or
	// "awskms:<key id>".
	Name() string
}

// Errors returned (wrapped) by Decrypt and by Provider.Unwrap. None of them
// is ever returned together with plaintext that failed authentication.
var (
	// ErrCorrupt means the object is not a well-formed encrypted object, or
	// a chunk or the header failed authentication: bytes were changed,
	// reordered, inserted, or a chunk was cut short.
	ErrCorrupt = errors.New("encrypted object is corrupt")

	// ErrTruncated means the object ends before its final chunk: chunks
	// were removed from its end.
	ErrTruncated = errors.New("encrypted object is truncated")

	// ErrWrongKey means the object's data key cannot be unwrapped with the
	// provider at hand: it was wrapped by another keyring or KMS key, its
	// key version is unknown here, or the wrapped key was altered.
	ErrWrongKey = errors.New("cannot unwrap the data key")

	// ErrUnsupported means the object uses a format version this build
	// does not read.
	ErrUnsupported = errors.New("unsupported encrypted object format")
)

// secretSalt is the HKDF salt of DeriveSecret; changing it changes every
// derived secret.
const secretSalt = "glassbox-secret/v1"

// DeriveSecret derives the 32-byte secret for purpose from root with
// HKDF-SHA256 (RFC 5869): salt "glassbox-secret/v1", info purpose. Providers
// call it with a root key that never changes (the local keyring's first
// version, the KMS provider's stored secret), so secrets survive rotation.
func DeriveSecret(root []byte, purpose string) ([]byte, error) {
	if err := checkPurpose(purpose); err != nil {
		return nil, err
	}
	if len(root) < DataKeySize {
		return nil, fmt.Errorf("derive secret: root key of %d bytes, want at least %d", len(root), DataKeySize)
	}
	out, err := hkdf.Key(sha256.New, root, []byte(secretSalt), purpose, DataKeySize)
	if err != nil {
		return nil, fmt.Errorf("derive secret: %w", err)
	}
	return out, nil
}

// checkPurpose accepts 1 to 128 bytes of printable ASCII.
func checkPurpose(purpose string) error {
	if purpose == "" || len(purpose) > 128 {
		return fmt.Errorf("secret purpose %q: want 1 to 128 characters", purpose)
	}
	for i := 0; i < len(purpose); i++ {
		if c := purpose[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("secret purpose %q: want printable ASCII without spaces", purpose)
		}
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/keys/kms"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// wrapBucket adds encryption at rest to the blob store of glassbox serve:
// the capture objects of endpoints with capture.encrypt are encrypted, and
// encrypted objects read back decrypted (monitor, API). Without a keys
// section it returns b unchanged, unless an endpoint asks for encryption:
// then it refuses, so nothing meant to be encrypted is stored in clear. A
// local keyring is created on first start; a keyring that cannot be used
// stops the server.
//
// The set of encrypted endpoints follows the endpoints served: the
// returned encryptedSet is updated on every reload, so an endpoint added or
// changed through the API is encrypted from its first object. p is the
// keys provider (nil without a keys section).
func wrapBucket(ctx context.Context, cfg *config.Config, b objstore.Bucket) (objstore.Bucket, *encryptedSet, keys.Provider, error) {
	if err := cfg.EncryptWithoutKeys(); err != nil {
		return nil, nil, nil, err
	}
	set := &encryptedSet{}
	set.apply(cfg.Endpoints)
	if !cfg.Keys.Enabled() {
		return b, set, nil, nil
	}
	p, err := openKeyProvider(ctx, cfg, true)
	if err != nil {
		return nil, nil, nil, err
	}
	return capture.NewEncryptingBucket(b, p, func(key string) bool { return set.has(capture.EndpointOf(key)) }), set, p, nil
}

// encryptedSet holds the names of the endpoints whose capture objects are
// encrypted; it is read on every Put and replaced on every reload.
type encryptedSet struct {
	names atomic.Pointer[map[string]bool]
}

func (s *encryptedSet) apply(eps []config.Endpoint) {
	m := map[string]bool{}
	for i := range eps {
		if eps[i].Capture.Encrypt {
			m[eps[i].Name] = true
		}
	}
	s.names.Store(&m)
}

func (s *encryptedSet) has(endpoint string) bool {
	m := s.names.Load()
	return m != nil && (*m)[endpoint]
}

// wrapReader makes a bucket that commands read captures from (captures,
// monitor run, reindex) decrypt encrypted objects with cfg's key provider.
// cfg may be nil (--blob without --config). It never creates a keyring; if
// the provider cannot be opened, plain objects still read and encrypted
// ones fail with the reason.
func wrapReader(ctx context.Context, cfg *config.Config, b objstore.Bucket) objstore.Bucket {
	if cfg == nil || !cfg.Keys.Enabled() {
		return capture.NewEncryptingBucket(b, nil, nil) // says why an encrypted object cannot be read
	}
	p, err := openKeyProvider(ctx, cfg, false)
	if err != nil {
		p = failedProvider{name: providerName(cfg), err: err}
	}
	return capture.NewEncryptingBucket(b, p, nil)
}

// openKeyProvider builds the key provider of the keys section (which must
// be enabled). create lets a local keyring be created.
func openKeyProvider(ctx context.Context, cfg *config.Config, create bool) (keys.Provider, error) {
	switch cfg.Keys.Provider {
	case config.KeysProviderLocal:
		k, err := keys.OpenKeyring(cfg.Keys.Keyring, keys.KeyringOptions{Create: create})
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		return k, nil
	case config.KeysProviderAWSKMS:
		p, err := kms.New(ctx, kms.Options{KeyID: cfg.Keys.KMSKeyID, StatePath: config.KMSStatePath(cfg.Storage.Spool)})
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		return p, nil
	}
	return nil, fmt.Errorf("keys: unknown provider %q", cfg.Keys.Provider)
}

// providerName is the Name the configured provider would have.
func providerName(cfg *config.Config) string {
	if cfg.Keys.Provider == config.KeysProviderAWSKMS {
		return "awskms:" + cfg.Keys.KMSKeyID
	}
	return "local:" + cfg.Keys.Keyring
}

// failedProvider stands in for a provider that could not be opened: every
// operation returns why.
type failedProvider struct {
	name string
	err  error
}

func (f failedProvider) NewDataKey(context.Context) ([]byte, []byte, error) { return nil, nil, f.err }
func (f failedProvider) Unwrap(context.Context, []byte) ([]byte, error)     { return nil, f.err }
func (f failedProvider) Secret(context.Context, string) ([]byte, error)     { return nil, f.err }
func (f failedProvider) Name() string                                       { return f.name }

package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/digest"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// digestSecretPurpose names the key-provider secret that seeds the digest
// signing key.
const digestSecretPurpose = "digest-ed25519"

// digestKeyFile is the signing-key seed kept in the digest state folder
// when no key provider is configured.
const digestKeyFile = "signing.key"

// digestStateDir is the digest writer's folder inside the spool folder: its
// journal, the newest digest per endpoint (the local anchor that verify
// checks) and, without a key provider, the signing key.
func digestStateDir(spool string) string { return filepath.Join(spool, "digest") }

// digestSigningKey returns the Ed25519 key that signs digests and where it
// comes from. With a keys section it is derived from the provider's stable
// "digest-ed25519" secret, so it survives restarts, key rotation and a lost
// spool. Without one it is a random 32-byte seed in
// {spool}/digest/signing.key (mode 0600), created on first start when create
// is set; verify reads it but never creates it (ok is false when absent).
func digestSigningKey(ctx context.Context, cfg *config.Config, create bool) (key ed25519.PrivateKey, source string, ok bool, err error) {
	if cfg.Keys.Enabled() {
		p, err := openKeyProvider(ctx, cfg, create) // keyswire.go
		if err != nil {
			return nil, "", false, err
		}
		seed, err := p.Secret(ctx, digestSecretPurpose)
		if err != nil {
			return nil, "", false, fmt.Errorf("digest signing key: %w", err)
		}
		if len(seed) != ed25519.SeedSize {
			return nil, "", false, fmt.Errorf("digest signing key: the key provider's secret has %d bytes, want %d", len(seed), ed25519.SeedSize)
		}
		return ed25519.NewKeyFromSeed(seed), "key provider " + p.Name(), true, nil
	}
	dir := digestStateDir(cfg.Storage.Spool)
	path := filepath.Join(dir, digestKeyFile)
	seed, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(seed) != ed25519.SeedSize {
			return nil, "", false, fmt.Errorf("read digest signing key %s: %d bytes, want %d", path, len(seed), ed25519.SeedSize)
		}
		return ed25519.NewKeyFromSeed(seed), path, true, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, "", false, fmt.Errorf("read digest signing key: %w", err)
	case !create:
		return nil, "", false, nil
	}
	seed, err = createKeyFile(dir, digestKeyFile, ed25519.SeedSize)
	if err != nil {
		return nil, "", false, fmt.Errorf("create digest signing key: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, "", false, fmt.Errorf("read digest signing key %s: %d bytes, want %d", path, len(seed), ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), path, true, nil
}

// digestService runs the digest writer of glassbox serve. It is the
// spool's capture.ObjectHook (through the embedded Writer).
type digestService struct {
	*digest.Writer
	cancel  context.CancelFunc
	done    chan struct{}
	log     *slog.Logger
	timeout time.Duration
}

// openDigests starts tamper evidence for glassbox serve. It wraps raw, the
// blob store itself, in a RecordingBucket that hashes what the store
// receives; serve must build every other decorator (encryption) on top of
// the returned bucket, so the digests list the stored (encrypted) bytes.
// The writer writes its digests to raw directly. Call stop after the
// spool is closed.
func openDigests(ctx context.Context, cfg *config.Config, raw objstore.Bucket, log *slog.Logger) (*digestService, objstore.Bucket, error) {
	key, source, _, err := digestSigningKey(ctx, cfg, true)
	if err != nil {
		return nil, nil, err
	}
	rec := digest.NewRecordingBucket(raw)
	eps := make([]string, 0, len(cfg.Endpoints))
	for i := range cfg.Endpoints {
		eps = append(eps, cfg.Endpoints[i].Name)
	}
	dlog := log.With("component", "digest")
	w, err := digest.Open(digest.Options{
		Bucket:     raw,
		SigningKey: key,
		StateDir:   digestStateDir(cfg.Storage.Spool),
		Endpoints:  eps,
		Hashes:     rec,
		Logger:     dlog,
	})
	if err != nil {
		return nil, nil, err
	}
	dlog.Info("digests signed", "fingerprint", digest.Fingerprint(w.PublicKey()), "key", source)
	runCtx, cancel := context.WithCancel(context.Background())
	d := &digestService{Writer: w, cancel: cancel, done: make(chan struct{}), log: dlog,
		timeout: time.Duration(cfg.Server.ShutdownTimeout)}
	go func() {
		defer close(d.done)
		_ = w.Run(runCtx)
	}()
	return d, rec, nil
}

// stop ends the hourly loop and writes the shutdown digest of every
// endpoint. What cannot be written stays in the journal for the next start.
func (d *digestService) stop() {
	d.cancel()
	<-d.done
	timeout := d.timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		d.log.Error("could not write the shutdown digests; they are written at the next start", "err", err)
	}
}

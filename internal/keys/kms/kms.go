// Package kms implements keys.Provider over AWS KMS with the AWS SDK for Go
// v2: data keys come from GenerateDataKey (AES_256) under one customer
// managed key and are unwrapped with Decrypt, both with the encryption
// context {"glassbox": "capture"}.
//
// Secrets (keys.Provider.Secret) derive from one data key generated the
// first time a secret is asked for and kept, wrapped by KMS, in a small
// state file (Options.StatePath): only KMS can open it, and it does not
// change when the KMS key rotates.
//
// This package is an adapter (rank 3): it imports the standard library, the
// AWS SDK and the keys port only.
package kms

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/glassbox-dev/glassbox/internal/keys"
)

// The encryption context {ContextKey: ContextValue} is sent with every
// GenerateDataKey and Decrypt request. KMS binds it to the wrapped key (and
// CloudTrail logs it), so a data key wrapped for another purpose does not
// unwrap here.
const (
	ContextKey   = "glassbox"
	ContextValue = "capture"
)

func encryptionContext() map[string]string { return map[string]string{ContextKey: ContextValue} }

// DefaultRegion is used when Options.Region is empty, the key is not an ARN
// (which names its region) and the SDK's configuration chain has none.
const DefaultRegion = "us-east-1"

// Wrapped keys from this provider: a format byte, the big-endian length of
// the KMS key ARN that wrapped it, that ARN, then KMS's ciphertext blob.
const wrapFormat = 0x02

// stateFormat is the "format" of the state file.
const stateFormat = "glassbox-kms-state/v1"

var _ keys.Provider = (*Provider)(nil)

// Options configures a Provider.
type Options struct {
	// KeyID is the KMS key that wraps data keys: a key id, key ARN,
	// alias/name or alias ARN. Required. Unwrap asks KMS to decrypt with
	// this key only, so objects wrapped under another key fail with
	// keys.ErrWrongKey rather than being opened with whatever key the
	// ciphertext names.
	KeyID string

	// StatePath is the file holding the wrapped root of Secret (JSON, mode
	// 0600, created on the first Secret call). Required for Secret only.
	StatePath string

	// Region overrides the SDK's region. Empty: the region of a KeyID ARN,
	// else AWS_REGION or the profile, else DefaultRegion.
	Region string

	// Endpoint overrides the KMS endpoint URL (AWS_ENDPOINT_URL_KMS and
	// AWS_ENDPOINT_URL also work), e.g. moto's.
	Endpoint string
}

// Provider is a keys.Provider backed by AWS KMS. It is safe for concurrent
// use.
type Provider struct {
	client    *kms.Client
	keyID     string
	statePath string

	mu   sync.Mutex
	root []byte // unwrapped secret root, once loaded
}

// New loads the SDK configuration chain and returns a Provider. It does not
// contact KMS: a missing key or missing permissions surface on first use.
func New(ctx context.Context, opts Options) (*Provider, error) {
	if opts.KeyID == "" {
		return nil, errors.New("new kms provider: empty key id")
	}
	region := opts.Region
	if region == "" {
		region = arnRegion(opts.KeyID)
	}
	var loadOpts []func(*config.LoadOptions) error
	if region != "" {
		loadOpts = append(loadOpts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("new kms provider: load aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	})
	return &Provider{client: client, keyID: opts.KeyID, statePath: opts.StatePath}, nil
}

// arnRegion returns the region of a KMS ARN ("arn:aws:kms:REGION:…"), or "".
func arnRegion(id string) string {
	parts := strings.SplitN(id, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "kms" {
		return parts[3]
	}
	return ""
}

// Name returns "awskms:" followed by the configured key id.
func (p *Provider) Name() string { return "awskms:" + p.keyID }

// NewDataKey asks KMS for a fresh AES-256 data key under the configured key.
func (p *Provider) NewDataKey(ctx context.Context) (plain, wrapped []byte, err error) {
	out, err := p.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(p.keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: encryptionContext(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("kms generate data key with %s: %w", p.keyID, err)
	}
	if len(out.Plaintext) != keys.DataKeySize {
		return nil, nil, fmt.Errorf("kms generate data key with %s: %d-byte key, want %d", p.keyID, len(out.Plaintext), keys.DataKeySize)
	}
	arn := aws.ToString(out.KeyId)
	if len(arn) > 0xffff {
		return nil, nil, fmt.Errorf("kms generate data key: key id of %d bytes", len(arn))
	}
	wrapped = make([]byte, 0, 3+len(arn)+len(out.CiphertextBlob))
	wrapped = append(wrapped, wrapFormat)
	wrapped = binary.BigEndian.AppendUint16(wrapped, uint16(len(arn)))
	wrapped = append(wrapped, arn...)
	wrapped = append(wrapped, out.CiphertextBlob...)
	return out.Plaintext, wrapped, nil
}

// splitWrapped returns the key ARN and the KMS ciphertext of a wrapped key.
func splitWrapped(w []byte) (arn string, blob []byte, ok bool) {
	if len(w) < 3 || w[0] != wrapFormat {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(w[1:3]))
	if len(w) < 3+n+1 {
		return "", nil, false
	}
	return string(w[3 : 3+n]), w[3+n:], true
}

// isWrongKey reports whether a KMS error code means "this key cannot open
// this ciphertext" rather than a transient failure.
func isWrongKey(code string) bool {
	switch code {
	case "AccessDeniedException", "IncorrectKeyException", "InvalidCiphertextException",
		"NotFoundException", "DisabledException", "KMSInvalidStateException":
		return true
	}
	return false
}

// Unwrap asks KMS to decrypt a key wrapped by NewDataKey, with the
// configured key only. Errors that mean the key cannot open it (another
// key, a disabled or deleted key, an altered blob, no permission) wrap
// keys.ErrWrongKey; network and throttling errors do not.
func (p *Provider) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	arn, blob, ok := splitWrapped(wrapped)
	if !ok {
		return nil, fmt.Errorf("unwrap with kms key %s: %w: not a key wrapped by AWS KMS", p.keyID, keys.ErrWrongKey)
	}
	out, err := p.client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    blob,
		KeyId:             aws.String(p.keyID),
		EncryptionContext: encryptionContext(),
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && isWrongKey(ae.ErrorCode()) {
			return nil, fmt.Errorf("unwrap with kms key %s: %w: the data key was wrapped by %s (%s)", p.keyID, keys.ErrWrongKey, arn, ae.ErrorCode())
		}
		return nil, fmt.Errorf("unwrap with kms key %s: %w", p.keyID, err)
	}
	if len(out.Plaintext) != keys.DataKeySize {
		return nil, fmt.Errorf("unwrap with kms key %s: %w: %d-byte key", p.keyID, keys.ErrWrongKey, len(out.Plaintext))
	}
	return out.Plaintext, nil
}

// stateFile is the JSON document at Options.StatePath.
type stateFile struct {
	Format string `json:"format"`
	// KeyID is the ARN of the KMS key that wrapped the root.
	KeyID string `json:"key_id"`
	// Wrapped is the root as returned by NewDataKey (base64).
	Wrapped []byte `json:"wrapped"`
}

// Secret derives the secret for purpose (keys.DeriveSecret) from a root
// data key kept wrapped in the state file, creating the file on first use.
func (p *Provider) Secret(ctx context.Context, purpose string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.root == nil {
		root, err := p.loadRoot(ctx)
		if err != nil {
			return nil, fmt.Errorf("kms secret: %w", err)
		}
		p.root = root
	}
	return keys.DeriveSecret(p.root, purpose)
}

// loadRoot reads the state file, or creates it, and unwraps the root.
func (p *Provider) loadRoot(ctx context.Context) ([]byte, error) {
	if p.statePath == "" {
		return nil, errors.New("no state file configured")
	}
	data, err := os.ReadFile(p.statePath)
	if errors.Is(err, fs.ErrNotExist) {
		if err := p.createState(ctx); err != nil {
			return nil, err
		}
		data, err = os.ReadFile(p.statePath)
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", p.statePath, err)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("state file %s: format %q, want %q", p.statePath, st.Format, stateFormat)
	}
	root, err := p.Unwrap(ctx, st.Wrapped)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", p.statePath, err)
	}
	return root, nil
}

// createState generates a root and stores it wrapped, unless another
// process created the file first: the file appears complete (tmp, fsync,
// hard link) and never replaces an existing one.
func (p *Provider) createState(ctx context.Context) error {
	plain, wrapped, err := p.NewDataKey(ctx)
	if err != nil {
		return err
	}
	clear(plain)
	arn, _, _ := splitWrapped(wrapped)
	data, err := json.MarshalIndent(stateFile{Format: stateFormat, KeyID: arn, Wrapped: wrapped}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(p.statePath)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".kms-state-*.tmp")
	if err != nil {
		return fmt.Errorf("create state: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	_, werr := tmp.Write(append(data, '\n'))
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("create state: %w", werr)
	}
	// CreateTemp made it 0600. Link fails if the file exists: keep that one.
	if err := os.Link(tmp.Name(), p.statePath); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("create state: sync folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("create state: sync folder: %w", err)
	}
	return nil
}

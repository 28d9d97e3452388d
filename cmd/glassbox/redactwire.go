package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/redact"
)

// redactKeyFile holds the per-install HMAC key of capture.redact's hash
// action, in the spool folder, for servers without a keys provider (and
// for those that had one before they got a provider: see loadRedactKey).
const redactKeyFile = "redact.key"

// redactKeyBytes is the size of a new key.
const redactKeyBytes = 32

// loadRedactKey returns the key of capture.redact's hash tokens. A key
// file <spool>/redact.key that already exists wins, so tokens stay the same
// when a server gains a keys provider; otherwise the keys provider's
// stable secret "redact-hmac" is used (the same on every server sharing the
// provider, across key rotations); without a provider the key file is
// created.
func loadRedactKey(ctx context.Context, spoolDir string, p keys.Provider) ([]byte, error) {
	if p != nil {
		if _, err := os.Stat(filepath.Join(spoolDir, redactKeyFile)); errors.Is(err, fs.ErrNotExist) {
			key, err := p.Secret(ctx, "redact-hmac")
			if err != nil {
				return nil, fmt.Errorf("redaction key from %s: %w", p.Name(), err)
			}
			return key, nil
		}
	}
	return loadRedactKeyFile(spoolDir)
}

// loadRedactKeyFile returns the install's redaction key from
// <spool>/redact.key, creating it (32 random bytes, mode 0600) on first
// start. Keeping it means one value keeps its token across restarts.
func loadRedactKeyFile(spoolDir string) ([]byte, error) {
	path := filepath.Join(spoolDir, redactKeyFile)
	key, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(key) < 16 {
			return nil, fmt.Errorf("read redaction key %s: %d bytes, want at least 16; remove it to create a new one (hash tokens will change)", path, len(key))
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read redaction key: %w", err)
	}
	key, err = createKeyFile(spoolDir, redactKeyFile, redactKeyBytes)
	if err != nil {
		return nil, fmt.Errorf("create redaction key: %w", err)
	}
	return key, nil
}

// captureRedactor builds an endpoint's redactor from its capture.redact
// rules, or returns nil when there are none. A nil key (build-only checks
// such as 'glassbox config check') gets a random one, so a misused check
// build can never produce guessable tokens.
func captureRedactor(rules []config.RedactRule, key []byte) (capture.Redactor, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	if key == nil {
		key = make([]byte, redactKeyBytes)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	rs := make([]redact.Rule, len(rules))
	for i, r := range rules {
		rs[i] = redact.Rule{Detector: r.Detector, JSONPath: r.JSONPath, CSVColumn: r.CSVColumn, Action: redact.Action(r.Action)}
	}
	r, err := redact.New(rs, key)
	if err != nil {
		return nil, err
	}
	return payloadRedactor{r}, nil
}

// payloadRedactor adapts redact.Redactor to capture.Redactor: CSV and JSON
// payloads are read as such, anything else (BASE64) as text.
type payloadRedactor struct{ r *redact.Redactor }

var _ capture.Redactor = payloadRedactor{}

func (p payloadRedactor) Redact(data []byte, encoding string) ([]byte, []string, error) {
	f := redact.Text
	switch encoding {
	case capture.EncodingCSV:
		f = redact.CSV
	case capture.EncodingJSON:
		f = redact.JSON
	}
	return p.r.Apply(data, f)
}

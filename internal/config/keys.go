package config

import (
	"fmt"
	"path/filepath"
	"unicode/utf8"
)

// Key providers, the values allowed in Keys.Provider.
const (
	KeysProviderNone   = ""       // no key provider: nothing is encrypted
	KeysProviderLocal  = "local"  // a keyring file of versioned keys
	KeysProviderAWSKMS = "awskms" // an AWS KMS customer managed key
)

// Keys configures the key provider of envelope encryption at rest (see
// docs/formats/encrypted-object.md). Endpoints opt in with
// capture.encrypt: true; every reader (captures, monitor) decrypts with the
// same provider. Default: no provider.
type Keys struct {
	// Provider is "local" (a keyring file) or "awskms" (AWS KMS).
	// Default "" (none); required when any endpoint sets capture.encrypt.
	Provider string `yaml:"provider"`
	// Keyring is the path of the local keyring file (provider local only,
	// and then required). glassbox serve creates it on first start, mode
	// 0600 in a folder created 0700, and refuses to use a keyring that
	// group or others can read. glassbox keys rotate adds a key version.
	// Back it up: objects cannot be read without it.
	Keyring string `yaml:"keyring"`
	// KMSKeyID is the AWS KMS key that wraps data keys (provider awskms
	// only, and then required): a key id, key ARN, alias/name or alias
	// ARN. Credentials and region come from the AWS SDK's chain (the
	// region of an ARN wins); AWS_ENDPOINT_URL_KMS overrides the endpoint.
	KMSKeyID string `yaml:"kms_key_id"`
}

// Enabled reports whether a key provider is configured.
func (k *Keys) Enabled() bool { return k.Provider != KeysProviderNone }

// KMSStatePath returns the file where the awskms provider keeps its wrapped
// secret root: beside the spool folder, "<spool>.kms-state.json".
func KMSStatePath(spool string) string {
	return filepath.Clean(spool) + ".kms-state.json"
}

// validate checks the keys section. Whether endpoints with capture.encrypt
// have a provider is checked by EncryptWithoutKeys, not here: endpoints
// are also parsed one by one (ParseEndpoint), without the keys section.
func (k *Keys) validate(ps *problems) {
	switch k.Provider {
	case KeysProviderNone:
		if k.Keyring != "" {
			ps.add("keys.keyring", "applies only with provider: %s, but keys.provider is not set", KeysProviderLocal)
		}
		if k.KMSKeyID != "" {
			ps.add("keys.kms_key_id", "applies only with provider: %s, but keys.provider is not set", KeysProviderAWSKMS)
		}
	case KeysProviderLocal:
		if k.Keyring == "" {
			ps.add("keys.keyring", "is required with provider: %s (the path of the keyring file)", KeysProviderLocal)
		}
		if k.KMSKeyID != "" {
			ps.add("keys.kms_key_id", "applies only with provider: %s, but keys.provider is %s", KeysProviderAWSKMS, quote(k.Provider))
		}
	case KeysProviderAWSKMS:
		if k.Keyring != "" {
			ps.add("keys.keyring", "applies only with provider: %s, but keys.provider is %s", KeysProviderLocal, quote(k.Provider))
		}
		switch n := utf8.RuneCountInString(k.KMSKeyID); {
		case n == 0:
			ps.add("keys.kms_key_id", "is required with provider: %s (a key id, key ARN, alias/name or alias ARN)", KeysProviderAWSKMS)
		case n > maxKMSKeyLen:
			ps.add("keys.kms_key_id", "is %d characters long; the maximum is %d", n, maxKMSKeyLen)
		case !kmsKeyRE.MatchString(k.KMSKeyID):
			ps.add("keys.kms_key_id", "invalid KMS key %s: want a key id, key ARN, alias/name or alias ARN, of letters, digits and :/_-", quote(k.KMSKeyID))
		}
	default:
		ps.add("keys.provider", "invalid provider %s: want %s or %s", quote(k.Provider), KeysProviderLocal, KeysProviderAWSKMS)
	}
}

// EncryptWithoutKeys returns a ValidationError naming every endpoint of c
// that sets capture.encrypt while keys.provider is not set, or nil.
// glassbox serve refuses to start on it, rather than store in clear what
// was meant to be encrypted.
func (c *Config) EncryptWithoutKeys() error {
	if c.Keys.Enabled() {
		return nil
	}
	var ps problems
	for i := range c.Endpoints {
		if c.Endpoints[i].Capture.Encrypt {
			ps.add(fmt.Sprintf("endpoints[%d].capture.encrypt", i),
				"needs a key provider: set keys.provider to %s (with keys.keyring) or %s (with keys.kms_key_id)",
				KeysProviderLocal, KeysProviderAWSKMS)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return ValidationError{Problems: ps}
}

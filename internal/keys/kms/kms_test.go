package kms_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/keys/kms"
	"github.com/glassbox-dev/glassbox/internal/testenv"
)

// kmsClient returns an SDK client for setting up keys on moto.
func kmsClient(endpoint string) *awskms.Client {
	return awskms.New(awskms.Options{
		Region:       testenv.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(testenv.AccessKeyID, testenv.SecretAccessKey, ""),
	})
}

// createKey creates a symmetric KMS key and an alias for it on moto and
// returns the key ARN and the alias.
func createKey(t *testing.T, endpoint string) (arn, alias string) {
	t.Helper()
	c := kmsClient(endpoint)
	out, err := c.CreateKey(t.Context(), &awskms.CreateKeyInput{Description: aws.String("glassbox test")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	alias = "alias/" + testenv.UniqueName("glassbox")
	if _, err := c.CreateAlias(t.Context(), &awskms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn), alias
}

func mustNew(t *testing.T, opts kms.Options) *kms.Provider {
	t.Helper()
	p, err := kms.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("kms.New: %v", err)
	}
	return p
}

func TestProvider(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)
	arnA, aliasA := createKey(t, endpoint)
	arnB, _ := createKey(t, endpoint)

	t.Run("round trip by alias and by arn", func(t *testing.T) {
		byAlias := mustNew(t, kms.Options{KeyID: aliasA})
		byARN := mustNew(t, kms.Options{KeyID: arnA, Endpoint: endpoint})
		if byAlias.Name() != "awskms:"+aliasA {
			t.Errorf("Name() = %q", byAlias.Name())
		}
		plain, wrapped, err := byAlias.NewDataKey(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(plain) != 32 || bytes.Contains(wrapped, plain) || !bytes.Contains(wrapped, []byte(arnA)) {
			t.Fatalf("data key of %d bytes; wrapped form must name the key ARN and not contain the key", len(plain))
		}
		for _, p := range []*kms.Provider{byAlias, byARN} {
			got, err := p.Unwrap(t.Context(), wrapped)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("Unwrap with %s: %v", p.Name(), err)
			}
		}
	})

	t.Run("object round trip", func(t *testing.T) {
		p := mustNew(t, kms.Options{KeyID: aliasA})
		var buf bytes.Buffer
		w, err := keys.Encrypt(t.Context(), p, &buf)
		if err != nil {
			t.Fatal(err)
		}
		plain := bytes.Repeat([]byte(`{"captureData":{"endpointInput":{"data":"secret"}}}`+"\n"), 5000)
		if _, err := w.Write(plain); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(buf.Bytes(), []byte("secret")) {
			t.Fatal("ciphertext contains plaintext")
		}
		r, err := keys.Decrypt(t.Context(), p, bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("decrypt: %v", err)
		}

		// Another KMS key cannot open it, and says which key wrapped it.
		_, err = keys.Decrypt(t.Context(), mustNew(t, kms.Options{KeyID: arnB}), bytes.NewReader(buf.Bytes()))
		if !errors.Is(err, keys.ErrWrongKey) || !strings.Contains(err.Error(), arnA) {
			t.Fatalf("Decrypt with another KMS key: %v, want ErrWrongKey naming %s", err, arnA)
		}
	})

	t.Run("unknown alias", func(t *testing.T) {
		p := mustNew(t, kms.Options{KeyID: "alias/does-not-exist"})
		_, _, err := p.NewDataKey(t.Context())
		if err == nil || !strings.Contains(err.Error(), "alias/does-not-exist") || !strings.Contains(err.Error(), "NotFound") {
			t.Fatalf("NewDataKey with an unknown alias: %v, want a NotFound error naming the alias", err)
		}
	})

	t.Run("wrong key errors", func(t *testing.T) {
		p := mustNew(t, kms.Options{KeyID: aliasA})
		_, wrapped, err := p.NewDataKey(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		flipped := bytes.Clone(wrapped)
		flipped[len(flipped)-5] ^= 0x40
		local, err := keys.OpenKeyring(filepath.Join(t.TempDir(), "k.json"), keys.KeyringOptions{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		_, localWrapped, _ := local.NewDataKey(t.Context())
		for name, w := range map[string][]byte{"altered blob": flipped, "local keyring key": localWrapped, "garbage": []byte("x")} {
			if got, err := p.Unwrap(t.Context(), w); !errors.Is(err, keys.ErrWrongKey) || got != nil {
				t.Errorf("%s: Unwrap = %x, %v; want ErrWrongKey", name, got, err)
			}
		}
		// And the local keyring refuses a KMS-wrapped key.
		if _, err := local.Unwrap(t.Context(), wrapped); !errors.Is(err, keys.ErrWrongKey) {
			t.Errorf("keyring Unwrap of a KMS key: %v, want ErrWrongKey", err)
		}
	})

	t.Run("secret", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "spool.kms-state.json")
		p := mustNew(t, kms.Options{KeyID: aliasA, StatePath: state})
		a, err := p.Secret(t.Context(), "redact-hmac")
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(state)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("state file mode %04o, want 0600", fi.Mode().Perm())
		}
		raw, _ := os.ReadFile(state)
		if !bytes.Contains(raw, []byte(arnA)) {
			t.Errorf("state file does not name the key: %s", raw)
		}
		// A restart (new provider, same state file) gives the same secret;
		// another purpose another one; another state file another one.
		again, err := mustNew(t, kms.Options{KeyID: aliasA, StatePath: state}).Secret(t.Context(), "redact-hmac")
		if err != nil || !bytes.Equal(a, again) {
			t.Fatalf("secret after restart differs (%v)", err)
		}
		if b, _ := p.Secret(t.Context(), "digest-ed25519"); bytes.Equal(a, b) || len(b) != 32 {
			t.Error("two purposes share a secret")
		}
		fresh, err := mustNew(t, kms.Options{KeyID: aliasA, StatePath: filepath.Join(t.TempDir(), "s.json")}).Secret(t.Context(), "redact-hmac")
		if err != nil || bytes.Equal(a, fresh) {
			t.Fatalf("a new state file gave the same secret (%v)", err)
		}
		// The state file is useless with another KMS key.
		if _, err := mustNew(t, kms.Options{KeyID: arnB, StatePath: state}).Secret(t.Context(), "redact-hmac"); !errors.Is(err, keys.ErrWrongKey) {
			t.Errorf("Secret with another key: %v, want ErrWrongKey", err)
		}
		if _, err := mustNew(t, kms.Options{KeyID: aliasA}).Secret(t.Context(), "x"); err == nil {
			t.Error("Secret without a state path succeeded")
		}
	})

	// moto does not enforce DisableKey or key deletion on GenerateDataKey
	// and Decrypt, so a disabled key cannot be tested here; isWrongKey maps
	// DisabledException and KMSInvalidStateException to ErrWrongKey.

	t.Run("new", func(t *testing.T) {
		if _, err := kms.New(t.Context(), kms.Options{}); err == nil {
			t.Error("New without a key id succeeded")
		}
	})
}

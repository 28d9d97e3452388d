package keys_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/keys"
)

// mustKeyring creates a keyring in a fresh folder below t.TempDir.
func mustKeyring(tb testing.TB) *keys.Keyring {
	tb.Helper()
	k, err := keys.OpenKeyring(filepath.Join(tb.TempDir(), "keys", "keyring.json"), keys.KeyringOptions{Create: true})
	if err != nil {
		tb.Fatalf("OpenKeyring: %v", err)
	}
	return k
}

// wrappedVersion reads the key version out of a local wrapped key (see
// docs/formats/encrypted-object.md).
func wrappedVersion(tb testing.TB, wrapped []byte) uint32 {
	tb.Helper()
	if len(wrapped) != 65 || wrapped[0] != 1 {
		tb.Fatalf("wrapped key %x is not a local wrapped key", wrapped)
	}
	return binary.BigEndian.Uint32(wrapped[1:5])
}

func TestOpenKeyring_CreatesPrivateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "keyring.json")
	k, err := keys.OpenKeyring(path, keys.KeyringOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("keyring mode %04o, want 0600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("keyring folder mode %04o, want 0700", got)
	}
	v := k.Versions()
	if len(v) != 1 || v[0].Version != 1 || !v[0].Current || v[0].Created.IsZero() {
		t.Errorf("Versions() = %+v, want one current version 1", v)
	}
	if k.Name() != "local:"+path {
		t.Errorf("Name() = %q", k.Name())
	}

	// Opening again loads the same keyring rather than making a new one.
	k2, err := keys.OpenKeyring(path, keys.KeyringOptions{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := k.Secret(t.Context(), "redact-hmac")
	s2, _ := k2.Secret(t.Context(), "redact-hmac")
	if !bytes.Equal(s1, s2) {
		t.Error("reopened keyring derives a different secret")
	}
}

func TestOpenKeyring_Errors(t *testing.T) {
	t.Run("missing without create", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "keyring.json")
		_, err := keys.OpenKeyring(path, keys.KeyringOptions{})
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("OpenKeyring of a missing file: %v, want a no such file error", err)
		}
		if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
			t.Error("OpenKeyring without Create created the file")
		}
	})
	t.Run("group readable", func(t *testing.T) {
		k := mustKeyring(t)
		if err := os.Chmod(k.Path(), 0o640); err != nil {
			t.Fatal(err)
		}
		_, err := keys.OpenKeyring(k.Path(), keys.KeyringOptions{Create: true})
		want := "chmod 600 " + k.Path()
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "0640") {
			t.Fatalf("OpenKeyring of a 0640 keyring: %v, want an error naming the mode and %q", err, want)
		}
	})
	tests := []struct {
		name, content, want string
	}{
		{"not json", "nope", "invalid character"},
		{"unknown field", `{"format":"glassbox-keyring/v1","current":1,"keys":[],"extra":1}`, "unknown field"},
		{"wrong format", `{"format":"other","current":1,"keys":[]}`, `format "other"`},
		{"no keys", `{"format":"glassbox-keyring/v1","current":1,"keys":[]}`, "no keys"},
		{"short key", `{"format":"glassbox-keyring/v1","current":1,"keys":[{"version":1,"key":"AAAA"}]}`, "is 3 bytes"},
		{"current missing", `{"format":"glassbox-keyring/v1","current":2,"keys":[{"version":1,"key":"` + strings.Repeat("A", 43) + `="}]}`, "current version 2"},
		{"version zero", `{"format":"glassbox-keyring/v1","current":0,"keys":[{"version":0,"key":"` + strings.Repeat("A", 43) + `="}]}`, "version 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keyring.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := keys.OpenKeyring(path, keys.KeyringOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("OpenKeyring: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestKeyring_WrapUnwrap(t *testing.T) {
	k := mustKeyring(t)
	plain, wrapped, err := k.NewDataKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != keys.DataKeySize {
		t.Fatalf("data key of %d bytes", len(plain))
	}
	if bytes.Contains(wrapped, plain) {
		t.Fatal("the wrapped key contains the data key")
	}
	got, err := k.Unwrap(t.Context(), wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatal("Unwrap returned another key")
	}
	p2, _, _ := k.NewDataKey(t.Context())
	if bytes.Equal(p2, plain) {
		t.Fatal("two data keys are equal")
	}
}

func TestKeyring_WrongKey(t *testing.T) {
	a, b := mustKeyring(t), mustKeyring(t)
	_, wrapped, err := a.NewDataKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(wrapped)
	flipped[len(flipped)-1] ^= 1
	bumped := bytes.Clone(wrapped)
	bumped[4] = 9 // version 9
	tests := []struct {
		name    string
		k       *keys.Keyring
		wrapped []byte
		want    string
	}{
		{"other keyring", b, wrapped, "does not open it"},
		{"flipped byte", a, flipped, "does not open it"},
		{"unknown version", a, bumped, "key version 9 is not in this keyring"},
		{"not local", a, []byte("awskms-blob"), "not a key wrapped by a local keyring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.k.Unwrap(t.Context(), tt.wrapped)
			if !errors.Is(err, keys.ErrWrongKey) || !strings.Contains(err.Error(), tt.want) || got != nil {
				t.Fatalf("Unwrap = %x, %v; want ErrWrongKey containing %q", got, err, tt.want)
			}
		})
	}
}

func TestKeyring_Rotate(t *testing.T) {
	k := mustKeyring(t)
	ctx := t.Context()
	// other is a second process's view, opened before the rotation.
	other, err := keys.OpenKeyring(k.Path(), keys.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret1, _ := k.Secret(ctx, "digest-ed25519")
	p1, w1, _ := k.NewDataKey(ctx)
	if v := wrappedVersion(t, w1); v != 1 {
		t.Fatalf("first data key wrapped with version %d", v)
	}

	v, err := k.Rotate()
	if err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v; want 2", v, err)
	}
	vs := k.Versions()
	if len(vs) != 2 || vs[0].Current || !vs[1].Current || vs[1].Version != 2 {
		t.Fatalf("Versions after Rotate = %+v", vs)
	}
	p2, w2, _ := k.NewDataKey(ctx)
	if v := wrappedVersion(t, w2); v != 2 {
		t.Fatalf("data key after Rotate wrapped with version %d, want 2", v)
	}
	for _, kr := range []*keys.Keyring{k, other} {
		if got, err := kr.Unwrap(ctx, w1); err != nil || !bytes.Equal(got, p1) {
			t.Errorf("Unwrap of a version-1 key after rotation: %v", err)
		}
		// other learns version 2 by reloading the file.
		if got, err := kr.Unwrap(ctx, w2); err != nil || !bytes.Equal(got, p2) {
			t.Errorf("Unwrap of a version-2 key: %v", err)
		}
	}
	// other creates new keys with the new version too.
	_, w3, _ := other.NewDataKey(ctx)
	if v := wrappedVersion(t, w3); v != 2 {
		t.Errorf("the other process wraps with version %d after the rotation, want 2", v)
	}
	secret2, _ := k.Secret(ctx, "digest-ed25519")
	secret3, _ := other.Secret(ctx, "digest-ed25519")
	if !bytes.Equal(secret1, secret2) || !bytes.Equal(secret1, secret3) {
		t.Error("Secret changed with the rotation")
	}
	if fi, _ := os.Stat(k.Path()); fi.Mode().Perm() != 0o600 {
		t.Errorf("rotated keyring mode %04o, want 0600", fi.Mode().Perm())
	}
}

// TestKeyring_ConcurrentRotate rotates from two keyring values (two
// processes) at once: the lock must keep every version.
func TestKeyring_ConcurrentRotate(t *testing.T) {
	k := mustKeyring(t)
	other, err := keys.OpenKeyring(k.Path(), keys.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const each = 10
	var wg sync.WaitGroup
	for _, kr := range []*keys.Keyring{k, other} {
		wg.Go(func() {
			for range each {
				if _, err := kr.Rotate(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	final, err := keys.OpenKeyring(k.Path(), keys.KeyringOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vs := final.Versions()
	if len(vs) != 1+2*each || !vs[len(vs)-1].Current {
		t.Fatalf("after %d concurrent rotations: %d versions, want %d", 2*each, len(vs), 1+2*each)
	}
}

func TestKeyring_Secret(t *testing.T) {
	k := mustKeyring(t)
	a, err := k.Secret(t.Context(), "redact-hmac")
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Secret(t.Context(), "digest-ed25519")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || len(b) != 32 || bytes.Equal(a, b) {
		t.Fatalf("secrets %x and %x: want two different 32-byte secrets", a, b)
	}
	if other, _ := mustKeyring(t).Secret(t.Context(), "redact-hmac"); bytes.Equal(a, other) {
		t.Fatal("two keyrings derive the same secret")
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", 129)} {
		if _, err := k.Secret(t.Context(), bad); err == nil {
			t.Errorf("Secret(%q) succeeded", bad)
		}
	}
}

func TestDeriveSecret_KnownAnswer(t *testing.T) {
	// HKDF-SHA256 with salt "glassbox-secret/v1": documented in
	// docs/formats/encrypted-object.md, so a third party can check it.
	root := bytes.Repeat([]byte{0x0b}, 32)
	got, err := keys.DeriveSecret(root, "redact-hmac")
	if err != nil {
		t.Fatal(err)
	}
	// Computed independently (Python hmac): PRK = HMAC(salt, root),
	// OKM = HMAC(PRK, "redact-hmac" || 0x01).
	const want = "0f36ef31d22fe9ccb6835e153beff56f428f5fd3001dde1681f068ff9cca8b82"
	if h := hex.EncodeToString(got); h != want {
		t.Errorf("DeriveSecret = %s, want %s", h, want)
	}
	if _, err := keys.DeriveSecret(root[:16], "x"); err == nil {
		t.Error("DeriveSecret accepted a 16-byte root")
	}
}

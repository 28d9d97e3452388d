package keys_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/keys"
)

var update = flag.Bool("update", false, "rewrite testdata/encrypted, the valid objects FuzzDecrypt mutates")

// fixedProvider always hands out the same data key, so that objects stored
// in testdata decrypt in every process (the fuzzing workers included).
type fixedProvider struct{}

var _ keys.Provider = fixedProvider{}

const fixedWrapped = "fixed-test-key/v1"

func fixedKey() []byte { return bytes.Repeat([]byte{0x42}, keys.DataKeySize) }

func (fixedProvider) NewDataKey(context.Context) ([]byte, []byte, error) {
	return fixedKey(), []byte(fixedWrapped), nil
}

func (fixedProvider) Unwrap(_ context.Context, wrapped []byte) ([]byte, error) {
	if string(wrapped) != fixedWrapped {
		return nil, fmt.Errorf("fixed provider: %w", keys.ErrWrongKey)
	}
	return fixedKey(), nil
}

func (fixedProvider) Secret(_ context.Context, purpose string) ([]byte, error) {
	return keys.DeriveSecret(fixedKey(), purpose)
}

func (fixedProvider) Name() string { return "fixed:test" }

// seedObjects are the valid objects in testdata/encrypted: plaintext size
// and chunk size. The plaintext of each is testPlain(size).
var seedObjects = []struct{ size, chunk int }{
	{0, 16}, {1, 16}, {16, 16}, {17, 16}, {50, 16}, {100, 7}, {300, 64}, {1000, 1000},
}

var seedName = regexp.MustCompile(`^seed-(\d+)-(\d+)\.gbxenc$`)

// loadSeeds reads testdata/encrypted and returns each object with its
// plaintext.
func loadSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob("testdata/encrypted/seed-*.gbxenc")
	if err != nil || len(files) != len(seedObjects) {
		tb.Fatalf("testdata/encrypted: %d files, want %d (go test -run TestSeedObjects -update rewrites them): %v",
			len(files), len(seedObjects), err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		m := seedName.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			tb.Fatalf("unexpected file %s", f)
		}
		size, _ := strconv.Atoi(m[1])
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[string(data)] = testPlain(size)
	}
	return out
}

// TestSeedObjects checks (or with -update rewrites) the stored objects,
// which also pins the format: a change that breaks reading objects written
// by an earlier build fails here.
func TestSeedObjects(t *testing.T) {
	if *update {
		dir := "testdata/encrypted"
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, s := range seedObjects {
			obj := mustEncrypt(t, fixedProvider{}, testPlain(s.size),
				keys.EncryptOptions{ChunkSize: s.chunk, ContentType: "application/x-ndjson"}, 0)
			name := filepath.Join(dir, fmt.Sprintf("seed-%d-%d.gbxenc", s.size, s.chunk))
			if err := os.WriteFile(name, obj, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for obj, plain := range loadSeeds(t) {
		got, err := decryptAll(fixedProvider{}, []byte(obj))
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("stored object of %d bytes: %v", len(plain), err)
		}
	}
}

// FuzzDecrypt feeds Decrypt random bytes and mutations of valid objects.
// Decrypt must not panic; it may succeed only on an unmodified valid object
// and then must return exactly its plaintext; on error, whatever the reader
// yielded before it must be a prefix of some valid object's plaintext
// (authenticated chunks only).
func FuzzDecrypt(f *testing.F) {
	seeds := loadSeeds(f)
	for obj := range seeds {
		f.Add([]byte(obj))
	}
	f.Add([]byte{})
	f.Add([]byte("\x89GBXENC\n"))
	f.Add([]byte("\x89GBXENC\n\x01\x00\x00\x00\x02{}"))
	f.Add([]byte("\x89GBXENC\n\x01\x00\x00\x00\x60" +
		`{"provider":"p","wrapped_key":"Zml4ZWQtdGVzdC1rZXkvdjE=","chunk_size":1,"nonce_prefix":"AAAAAAAAAAA="}` + "\x00"))
	f.Add([]byte(`{"captureData":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decryptAll(fixedProvider{}, data)
		want, valid := seeds[string(data)]
		switch {
		case err == nil && !valid:
			t.Fatalf("a modified object (%d bytes) decrypted without error to %d bytes", len(data), len(got))
		case err == nil && !bytes.Equal(got, want):
			t.Fatalf("a valid object decrypted to other plaintext")
		case err != nil && valid:
			t.Fatalf("a valid object failed: %v", err)
		case err != nil && len(got) > 0:
			for _, plain := range seeds {
				if bytes.HasPrefix(plain, got) {
					return
				}
			}
			t.Fatalf("before error %v the reader yielded %d bytes that start no valid plaintext", err, len(got))
		}
	})
}

package keys_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/keys"
)

// testPlain returns n bytes of recognisable, non-repeating plaintext.
func testPlain(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// mustEncrypt encrypts plain with p, writing it in pieces of write bytes
// (all at once when 0).
func mustEncrypt(tb testing.TB, p keys.Provider, plain []byte, opts keys.EncryptOptions, write int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := keys.EncryptWith(context.Background(), p, &buf, opts)
	if err != nil {
		tb.Fatalf("EncryptWith: %v", err)
	}
	for rest := plain; ; {
		n := len(rest)
		if write > 0 && write < n {
			n = write
		}
		if _, err := w.Write(rest[:n]); err != nil {
			tb.Fatalf("Write: %v", err)
		}
		rest = rest[n:]
		if len(rest) == 0 {
			break
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

// decryptAll decrypts obj with p and returns everything the reader yielded
// and the first error (nil at a clean end).
func decryptAll(p keys.Provider, obj []byte) ([]byte, error) {
	r, err := keys.Decrypt(context.Background(), p, bytes.NewReader(obj))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, r)
	return out.Bytes(), err
}

// layout splits an object into its preamble+header and its chunks.
func layout(tb testing.TB, obj []byte) (head []byte, chunks [][]byte) {
	tb.Helper()
	n := int(binary.BigEndian.Uint32(obj[9:13]))
	head = obj[:13+n]
	var h struct {
		ChunkSize int `json:"chunk_size"`
	}
	if err := json.Unmarshal(obj[13:13+n], &h); err != nil {
		tb.Fatal(err)
	}
	for rest := obj[13+n:]; len(rest) > 0; {
		c := min(len(rest), h.ChunkSize+16)
		chunks = append(chunks, rest[:c])
		rest = rest[c:]
	}
	return head, chunks
}

func join(head []byte, chunks ...[]byte) []byte {
	out := bytes.Clone(head)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}

func TestEncryptDecrypt_RoundTrip(t *testing.T) {
	k := mustKeyring(t)
	const cs = 64
	sizes := []int{0, 1, cs - 1, cs, cs + 1, 2 * cs, 3*cs + 5, 10_000}
	for _, size := range sizes {
		for _, write := range []int{0, 1, 7, cs, 1000} {
			plain := testPlain(size)
			obj := mustEncrypt(t, k, plain, keys.EncryptOptions{ChunkSize: cs}, write)
			if !keys.IsEncrypted(obj) {
				t.Fatalf("size %d: IsEncrypted(object) = false", size)
			}
			if size >= 8 && bytes.Contains(obj, plain[:8]) {
				t.Fatalf("size %d: the object contains plaintext", size)
			}
			got, err := decryptAll(k, obj)
			if err != nil {
				t.Fatalf("size %d, writes of %d: Decrypt: %v", size, write, err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("size %d, writes of %d: round trip differs", size, write)
			}
			// Chunks: all full but the last, which is never empty unless the
			// object is.
			_, chunks := layout(t, obj)
			wantChunks := max(1, (size+cs-1)/cs)
			if len(chunks) != wantChunks {
				t.Errorf("size %d: %d chunks, want %d", size, len(chunks), wantChunks)
			}
		}
	}

	t.Run("default chunk size and content type", func(t *testing.T) {
		plain := testPlain(3*keys.DefaultChunkSize + 100)
		obj := mustEncrypt(t, k, plain, keys.EncryptOptions{ContentType: "application/x-ndjson"}, 5000)
		head, chunks := layout(t, obj)
		if len(chunks) != 4 || len(chunks[0]) != keys.DefaultChunkSize+16 {
			t.Errorf("%d chunks of %d bytes", len(chunks), len(chunks[0]))
		}
		if !bytes.Contains(head, []byte(`"content_type":"application/x-ndjson"`)) || !bytes.Contains(head, []byte(`"provider":"local:`)) {
			t.Errorf("header %q lacks provider or content type", head[13:])
		}
		got, err := decryptAll(k, obj)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("round trip: %v", err)
		}
	})
	t.Run("same plaintext twice", func(t *testing.T) {
		plain := testPlain(100)
		a := mustEncrypt(t, k, plain, keys.EncryptOptions{}, 0)
		b := mustEncrypt(t, k, plain, keys.EncryptOptions{}, 0)
		if bytes.Equal(a[len(a)-116:], b[len(b)-116:]) {
			t.Error("two encryptions of the same plaintext give the same ciphertext")
		}
	})
}

func TestIsEncrypted(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"\x89GBXENC", false},
		{"\x89GBXENC\n", true},
		{"\x89GBXENC\n\x01rest", true},
		{`{"captureData":{}}`, false},
	} {
		if got := keys.IsEncrypted([]byte(tt.in)); got != tt.want {
			t.Errorf("IsEncrypted(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDecrypt_Tampering(t *testing.T) {
	k := mustKeyring(t)
	const cs = 32
	plain := testPlain(3*cs + 10) // chunks of 32, 32, 32 and 10 bytes
	obj := mustEncrypt(t, k, plain, keys.EncryptOptions{ChunkSize: cs}, 0)
	head, ch := layout(t, obj)
	if len(ch) != 4 {
		t.Fatalf("%d chunks", len(ch))
	}
	other := mustEncrypt(t, k, testPlain(3*cs+10), keys.EncryptOptions{ChunkSize: cs}, 0)
	_, och := layout(t, other)
	bumpVersion := bytes.Clone(obj)
	bumpVersion[8] = 2
	altHeader := bytes.Clone(obj)
	copy(altHeader[bytes.Index(altHeader, []byte(`"chunk_size":32`)):], `"chunk_size":33`)
	alsoFinal := mustEncrypt(t, k, testPlain(cs), keys.EncryptOptions{ChunkSize: cs}, 0) // one final full chunk

	tests := []struct {
		name string
		obj  []byte
		want error
	}{
		{"drop last chunk", join(head, ch[0], ch[1], ch[2]), keys.ErrTruncated},
		{"drop all chunks", join(head), keys.ErrTruncated},
		{"cut inside header", obj[:20], keys.ErrTruncated},
		{"cut inside preamble", obj[:10], keys.ErrTruncated},
		{"cut inside last chunk", obj[:len(obj)-3], keys.ErrCorrupt},
		{"cut inside a middle chunk", join(head, ch[0], ch[1][:20]), keys.ErrCorrupt},
		{"swap chunks", join(head, ch[1], ch[0], ch[2], ch[3]), keys.ErrCorrupt},
		{"repeat a chunk", join(head, ch[0], ch[0], ch[1], ch[2], ch[3]), keys.ErrCorrupt},
		// Same keyring, but each object has its own data key.
		{"chunk from another object", join(head, ch[0], och[1], ch[2], ch[3]), keys.ErrCorrupt},
		{"append bytes", append(bytes.Clone(obj), 0), keys.ErrCorrupt},
		{"append a chunk", join(head, ch[0], ch[1], ch[2], ch[3], ch[3]), keys.ErrCorrupt},
		{"header changed", altHeader, keys.ErrCorrupt},
		{"version 2", bumpVersion, keys.ErrUnsupported},
		{"not encrypted", []byte(`{"captureData":{}}` + "\n"), keys.ErrCorrupt},
		{"empty", nil, keys.ErrTruncated},
		{"wrong keyring", obj, keys.ErrWrongKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := keys.Provider(k)
			if tt.name == "wrong keyring" {
				p = mustKeyring(t)
			}
			got, err := decryptAll(p, tt.obj)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !bytes.HasPrefix(plain, got) {
				t.Fatalf("yielded %d bytes that are not a prefix of the plaintext", len(got))
			}
			if len(got)%cs != 0 {
				t.Fatalf("yielded %d bytes: part of a chunk", len(got))
			}
		})
	}

	// A single full chunk that is final reads fine (peek at EOF).
	if got, err := decryptAll(k, alsoFinal); err != nil || !bytes.Equal(got, testPlain(cs)) {
		t.Fatalf("object of exactly one chunk: %v", err)
	}

	t.Run("every single flipped bit", func(t *testing.T) {
		small := mustEncrypt(t, k, testPlain(40), keys.EncryptOptions{ChunkSize: 16}, 0)
		for i := range small {
			for bit := range 8 {
				bad := bytes.Clone(small)
				bad[i] ^= 1 << bit
				got, err := decryptAll(k, bad)
				if err == nil {
					t.Fatalf("flipping bit %d of byte %d went unnoticed", bit, i)
				}
				if !bytes.HasPrefix(testPlain(40), got) {
					t.Fatalf("flipping bit %d of byte %d yielded other plaintext", bit, i)
				}
			}
		}
	})
}

// TestDecrypt_Streams checks that a reader gets the first chunks before the
// writer has finished the object.
func TestDecrypt_Streams(t *testing.T) {
	k := mustKeyring(t)
	pr, pw := io.Pipe()
	defer pr.Close()
	finish := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		w, err := keys.EncryptWith(context.Background(), k, pw, keys.EncryptOptions{ChunkSize: 16})
		if err == nil {
			// Two full chunks and a byte: the first chunk can be sealed.
			_, err = w.Write([]byte("0123456789abcdef0123456789abcdef+"))
		}
		if err == nil {
			<-finish
			err = w.Close()
		}
		_ = pw.CloseWithError(err)
		errc <- err
	}()
	r, err := keys.Decrypt(t.Context(), k, pr)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 16)
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(r, got); done <- err }()
	select {
	case err := <-done:
		if err != nil || string(got) != "0123456789abcdef" {
			t.Fatalf("first chunk: %q, %v", got, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first chunk was not readable before Close")
	}
	close(finish)
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "0123456789abcdef+" {
		t.Fatalf("rest: %q, %v", rest, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// failingProvider is a Provider whose key operations fail.
type failingProvider struct{ keys.Provider }

func (failingProvider) NewDataKey(context.Context) ([]byte, []byte, error) {
	return nil, nil, errors.New("kms is down")
}

func TestEncrypt_Errors(t *testing.T) {
	if _, err := keys.Encrypt(t.Context(), failingProvider{mustKeyring(t)}, io.Discard); err == nil || !strings.Contains(err.Error(), "kms is down") {
		t.Errorf("Encrypt with a failing provider: %v", err)
	}
	if _, err := keys.EncryptWith(t.Context(), mustKeyring(t), io.Discard, keys.EncryptOptions{ChunkSize: keys.MaxChunkSize + 1}); err == nil {
		t.Error("EncryptWith accepted a chunk size above MaxChunkSize")
	}
	w, err := keys.Encrypt(t.Context(), mustKeyring(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
}

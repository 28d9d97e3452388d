package keys_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/keys"
)

// benchSize is the object size of the benchmarks: a typical capture object.
const benchSize = 8 << 20

// onlyReader hides WriterTo/ReaderFrom so that io.Copy goes through its
// 32 KiB buffer, as reading an object from a bucket does.
type onlyReader struct{ io.Reader }

type onlyWriter struct{ io.Writer }

// BenchmarkEncrypt compares encrypting an object with copying it: "copy"
// is the baseline, "encrypt" the same bytes through Encrypt (one data key
// per object, as the blob-store decorator does).
func BenchmarkEncrypt(b *testing.B) {
	k := mustKeyring(b)
	plain := testPlain(benchSize)
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			if _, err := io.Copy(onlyWriter{io.Discard}, onlyReader{bytes.NewReader(plain)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encrypt", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			w, err := keys.Encrypt(b.Context(), k, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(onlyWriter{w}, onlyReader{bytes.NewReader(plain)}); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecrypt compares reading a decrypted object with reading the
// plain one.
func BenchmarkDecrypt(b *testing.B) {
	k := mustKeyring(b)
	plain := testPlain(benchSize)
	obj := mustEncrypt(b, k, plain, keys.EncryptOptions{}, 0)
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			if _, err := io.Copy(onlyWriter{io.Discard}, onlyReader{bytes.NewReader(plain)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decrypt", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			r, err := keys.Decrypt(b.Context(), k, bytes.NewReader(obj))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(onlyWriter{io.Discard}, onlyReader{r}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

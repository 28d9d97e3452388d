package digest_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/digest"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// discardBucket stores nothing; Put reads the body to the end.
type discardBucket struct{ objstore.Bucket }

func (discardBucket) Put(_ context.Context, _ string, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// BenchmarkRecordingBucket_Put measures the per-object cost of hashing
// what is stored (MB/s), for a seekable body (the spool's, hashed in a pass
// of its own) and a stream (an encrypting decorator's pipe, hashed as it
// flows). The store discards the bytes, so this is the hashing alone.
func BenchmarkRecordingBucket_Put(b *testing.B) {
	body := bytes.Repeat([]byte(`{"captureData":{"endpointInput":{"data":"1,2,3"}}}`+"\n"), 8<<20/52)
	ctx := context.Background()
	rec := digest.NewRecordingBucket(discardBucket{})
	b.Run("seekable", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := rec.Put(ctx, "k", bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
			rec.Take("k")
		}
	})
	b.Run("stream", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := rec.Put(ctx, "k", io.MultiReader(bytes.NewReader(body))); err != nil {
				b.Fatal(err)
			}
			rec.Take("k")
		}
	})
}

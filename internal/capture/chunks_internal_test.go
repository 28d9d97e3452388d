package capture

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

func TestChunks_ReaderMatchesWrites(t *testing.T) {
	pool := &chunkPool{}
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 17} {
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(rng.UintN(256))
		}
		c := chunks{pool: pool}
		for rest := want; len(rest) > 0; {
			k := min(len(rest), 1+int(rng.UintN(5000)))
			_, _ = c.Write(rest[:k])
			rest = rest[k:]
		}
		if c.Len() != size {
			t.Fatalf("Len() = %d, want %d", c.Len(), size)
		}
		got, err := io.ReadAll(c.reader())
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: Read gave %d bytes, %v; want the written bytes", size, len(got), err)
		}
		var w bytes.Buffer
		if _, err := c.reader().WriteTo(&w); err != nil || !bytes.Equal(w.Bytes(), want) {
			t.Fatalf("size %d: WriteTo gave %d bytes, %v", size, w.Len(), err)
		}
		r := c.reader()
		if size > 10 {
			if _, err := r.Seek(int64(size-10), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			tail, _ := io.ReadAll(r)
			if !bytes.Equal(tail, want[size-10:]) {
				t.Errorf("size %d: read after Seek = %x, want %x", size, tail, want[size-10:])
			}
		}
		if _, err := r.Seek(-1, io.SeekStart); err == nil {
			t.Errorf("Seek(-1) succeeded")
		}
		if _, err := r.Seek(1, io.SeekEnd); err == nil {
			t.Errorf("Seek past the end succeeded")
		}
		c.release()
	}
}

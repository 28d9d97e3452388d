package capture

import (
	"errors"
	"io"
	"sync"
)

// chunkSize is the size of the pooled blocks an open object is assembled
// in. Fixed-size recycled blocks keep a 64 MiB object from being one huge
// allocation that is regrown (and zeroed) by doubling.
const chunkSize = 256 << 10

var errSeek = errors.New("seek out of range")

// chunkPool recycles chunk blocks between objects of one pipeline.
type chunkPool struct{ p sync.Pool }

func (cp *chunkPool) get() []byte {
	if v := cp.p.Get(); v != nil {
		return (*v.(*[]byte))[:0]
	}
	return make([]byte, 0, chunkSize)
}

func (cp *chunkPool) put(b []byte) { cp.p.Put(&b) }

// chunks is an append-only byte sequence stored in pooled blocks.
type chunks struct {
	pool   *chunkPool
	blocks [][]byte
	n      int
}

// Write appends p. It never fails.
func (c *chunks) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		if len(c.blocks) == 0 || len(c.blocks[len(c.blocks)-1]) == chunkSize {
			c.blocks = append(c.blocks, c.pool.get())
		}
		last := &c.blocks[len(c.blocks)-1]
		k := copy((*last)[len(*last):chunkSize], p)
		*last = (*last)[:len(*last)+k]
		p = p[k:]
	}
	c.n += written
	return written, nil
}

// Len returns the number of bytes written.
func (c *chunks) Len() int { return c.n }

// release returns the blocks to the pool; c must not be used afterwards.
func (c *chunks) release() {
	for _, b := range c.blocks {
		c.pool.put(b)
	}
	c.blocks, c.n = nil, 0
}

// reader returns a fresh io.ReadSeeker over the bytes written so far, so
// that a blob store can retry or stream without a copy.
func (c *chunks) reader() *chunkReader { return &chunkReader{c: c} }

type chunkReader struct {
	c   *chunks
	off int64
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.off >= int64(r.c.n) {
		return 0, io.EOF
	}
	b := r.c.blocks[r.off/chunkSize][r.off%chunkSize:]
	n := copy(p, b)
	r.off += int64(n)
	return n, nil
}

// WriteTo lets io.Copy write block by block without an extra buffer.
func (r *chunkReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.off < int64(r.c.n) {
		b := r.c.blocks[r.off/chunkSize][r.off%chunkSize:]
		n, err := w.Write(b)
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (r *chunkReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += int64(r.c.n)
	default:
		return 0, errSeek
	}
	if offset < 0 || offset > int64(r.c.n) {
		return 0, errSeek
	}
	r.off = offset
	return offset, nil
}

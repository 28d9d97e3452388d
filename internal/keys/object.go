package keys

import (
	"bufio"
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// The encrypted-object format, version 1. docs/formats/encrypted-object.md
// specifies it byte by byte; keep the two in step.
const (
	// FormatVersion is the version byte this package writes.
	FormatVersion = 1

	// DefaultChunkSize is the plaintext size of every chunk but the last
	// when EncryptOptions.ChunkSize is 0.
	DefaultChunkSize = 64 << 10

	// MaxChunkSize is the largest chunk size a reader accepts.
	MaxChunkSize = 16 << 20

	// MaxHeaderLen bounds the JSON header.
	MaxHeaderLen = 64 << 10

	magicLen       = 8
	preambleLen    = magicLen + 1 + 4 // magic, version, header length
	tagLen         = 16               // GCM tag
	noncePrefixLen = 8
	maxWrappedKey  = 8 << 10
	maxProviderLen = 1024
	maxContentType = 256
	aadLen         = sha256.Size + 8 + 1
)

// magic starts every encrypted object. The first byte is not ASCII, so it
// cannot start a JSON Lines capture file.
var magic = [magicLen]byte{0x89, 'G', 'B', 'X', 'E', 'N', 'C', '\n'}

// IsEncrypted reports whether prefix, the first bytes of an object (at least
// 8), starts with the encrypted-object magic. It says nothing about whether
// the rest is valid.
func IsEncrypted(prefix []byte) bool {
	return len(prefix) >= magicLen && bytes.Equal(prefix[:magicLen], magic[:])
}

// header is the JSON header of an encrypted object.
type header struct {
	// Provider is the Name of the Provider that wrapped the data key.
	Provider string `json:"provider"`
	// WrappedKey is the data key as wrapped by the Provider (base64).
	WrappedKey []byte `json:"wrapped_key"`
	// ChunkSize is the plaintext size of every chunk but the last.
	ChunkSize int `json:"chunk_size"`
	// NoncePrefix is 8 random bytes (base64) that start every chunk nonce.
	NoncePrefix []byte `json:"nonce_prefix"`
	// ContentType is the media type of the plaintext; may be empty.
	ContentType string `json:"content_type,omitempty"`
}

func (h *header) check() error {
	switch {
	case h.Provider == "" || len(h.Provider) > maxProviderLen || !utf8.ValidString(h.Provider):
		return errors.New("provider: want 1 to 1024 bytes of UTF-8")
	case len(h.WrappedKey) == 0 || len(h.WrappedKey) > maxWrappedKey:
		return fmt.Errorf("wrapped_key: want 1 to %d bytes, got %d", maxWrappedKey, len(h.WrappedKey))
	case h.ChunkSize < 1 || h.ChunkSize > MaxChunkSize:
		return fmt.Errorf("chunk_size: want 1 to %d, got %d", MaxChunkSize, h.ChunkSize)
	case len(h.NoncePrefix) != noncePrefixLen:
		return fmt.Errorf("nonce_prefix: want %d bytes, got %d", noncePrefixLen, len(h.NoncePrefix))
	case len(h.ContentType) > maxContentType:
		return fmt.Errorf("content_type: longer than %d bytes", maxContentType)
	}
	return nil
}

// chunkCrypto holds what sealing and opening chunks share.
type chunkCrypto struct {
	aead   cipher.AEAD
	digest [sha256.Size]byte // SHA-256 of preamble and header
	prefix [noncePrefixLen]byte
	nonce  [12]byte
	aad    [aadLen]byte
}

// params fills the nonce and additional data of chunk idx.
func (c *chunkCrypto) params(idx uint64, final bool) (nonce, aad []byte) {
	copy(c.nonce[:], c.prefix[:])
	binary.BigEndian.PutUint32(c.nonce[noncePrefixLen:], uint32(idx))
	copy(c.aad[:], c.digest[:])
	binary.BigEndian.PutUint64(c.aad[sha256.Size:], idx)
	c.aad[aadLen-1] = 0
	if final {
		c.aad[aadLen-1] = 1
	}
	return c.nonce[:], c.aad[:]
}

// EncryptOptions tunes EncryptWith. The zero value gives the defaults.
type EncryptOptions struct {
	// ChunkSize is the plaintext bytes per chunk, 1 to MaxChunkSize.
	// 0 means DefaultChunkSize.
	ChunkSize int
	// ContentType is recorded in the header as the plaintext's media type
	// (e.g. "application/x-ndjson"). Optional.
	ContentType string
}

// Encrypt is EncryptWith with default options.
func Encrypt(ctx context.Context, p Provider, dst io.Writer) (io.WriteCloser, error) {
	return EncryptWith(ctx, p, dst, EncryptOptions{})
}

// EncryptWith asks p for a fresh data key, writes the object's preamble and
// header to dst, and returns a writer that encrypts what is written to it
// chunk by chunk. Close writes the final chunk and must be called, or the
// object is truncated; it does not close dst. After an error every further
// call returns it.
func EncryptWith(ctx context.Context, p Provider, dst io.Writer, opts EncryptOptions) (io.WriteCloser, error) {
	cs := opts.ChunkSize
	if cs == 0 {
		cs = DefaultChunkSize
	}
	plain, wrapped, err := p.NewDataKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if len(plain) != DataKeySize {
		return nil, fmt.Errorf("encrypt: provider %s returned a %d-byte data key, want %d", p.Name(), len(plain), DataKeySize)
	}
	h := header{Provider: p.Name(), WrappedKey: wrapped, ChunkSize: cs, ContentType: opts.ContentType,
		NoncePrefix: make([]byte, noncePrefixLen)}
	if _, err := rand.Read(h.NoncePrefix); err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("encrypt: header: %w", err)
	}
	hj, err := json.Marshal(&h)
	if err != nil {
		return nil, fmt.Errorf("encrypt: header: %w", err)
	}
	if len(hj) > MaxHeaderLen {
		return nil, fmt.Errorf("encrypt: header of %d bytes exceeds %d", len(hj), MaxHeaderLen)
	}
	head := make([]byte, 0, preambleLen+len(hj))
	head = append(head, magic[:]...)
	head = append(head, FormatVersion)
	head = binary.BigEndian.AppendUint32(head, uint32(len(hj)))
	head = append(head, hj...)

	aead, err := newGCM(plain)
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	w := &encWriter{dst: dst, cs: cs, buf: make([]byte, 0, cs+tagLen)}
	w.c.aead = aead
	w.c.digest = sha256.Sum256(head)
	copy(w.c.prefix[:], h.NoncePrefix)
	if _, err := dst.Write(head); err != nil {
		return nil, fmt.Errorf("encrypt: write header: %w", err)
	}
	return w, nil
}

// encWriter is the io.WriteCloser of EncryptWith.
type encWriter struct {
	dst    io.Writer
	c      chunkCrypto
	cs     int
	buf    []byte // buffered plaintext; capacity cs + tagLen for in-place sealing
	idx    uint64 // index of the next chunk
	err    error
	closed bool
}

// Write buffers p and writes every full chunk that is known not to be the
// last one (a full chunk is held back until more data arrives or Close).
func (w *encWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("encrypt: write after close")
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == w.cs {
			if err := w.seal(false); err != nil {
				return n, err
			}
		}
		c := copy(w.buf[len(w.buf):w.cs], p)
		w.buf = w.buf[:len(w.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

// seal encrypts the buffered plaintext as chunk w.idx and writes it.
func (w *encWriter) seal(final bool) error {
	if w.idx > math.MaxUint32 {
		w.err = errors.New("encrypt: object too large: more than 2^32 chunks")
		return w.err
	}
	nonce, aad := w.c.params(w.idx, final)
	out := w.c.aead.Seal(w.buf[:0], nonce, w.buf, aad)
	if _, err := w.dst.Write(out); err != nil {
		w.err = fmt.Errorf("encrypt: write chunk %d: %w", w.idx, err)
		return w.err
	}
	clear(out)
	w.buf = w.buf[:0]
	w.idx++
	return nil
}

// Close writes the final chunk (empty only when nothing was written at all).
func (w *encWriter) Close() error {
	if w.closed || w.err != nil {
		return w.err
	}
	w.closed = true
	return w.seal(true)
}

// Decrypt reads the preamble and header of an encrypted object from src,
// unwraps its data key with p, and returns a reader of the plaintext. The
// reader authenticates each chunk before yielding any of its bytes, and
// returns io.EOF only after the final chunk; any other failure is an error
// wrapping ErrCorrupt or ErrTruncated, and a data key p cannot unwrap is
// ErrWrongKey (returned by Decrypt itself).
func Decrypt(ctx context.Context, p Provider, src io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(src, 4096)
	pre := make([]byte, preambleLen)
	if n, err := io.ReadFull(br, pre); err != nil {
		switch {
		case !IsEncrypted(pre[:n]) && !bytes.HasPrefix(magic[:], pre[:n]):
			return nil, fmt.Errorf("decrypt: %w: not an encrypted object", ErrCorrupt)
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil, fmt.Errorf("decrypt: %w: %d bytes, shorter than the preamble", ErrTruncated, n)
		default:
			return nil, fmt.Errorf("decrypt: read preamble: %w", err)
		}
	}
	if !IsEncrypted(pre) {
		return nil, fmt.Errorf("decrypt: %w: not an encrypted object (no magic)", ErrCorrupt)
	}
	if v := pre[magicLen]; v != FormatVersion {
		return nil, fmt.Errorf("decrypt: %w: version %d (this build reads version %d)", ErrUnsupported, v, FormatVersion)
	}
	hlen := binary.BigEndian.Uint32(pre[magicLen+1:])
	if hlen == 0 || hlen > MaxHeaderLen {
		return nil, fmt.Errorf("decrypt: %w: header length %d, want 1 to %d", ErrCorrupt, hlen, MaxHeaderLen)
	}
	hj := make([]byte, hlen)
	if _, err := io.ReadFull(br, hj); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("decrypt: %w: ends inside the header", ErrTruncated)
		}
		return nil, fmt.Errorf("decrypt: read header: %w", err)
	}
	var h header
	if err := json.Unmarshal(hj, &h); err != nil {
		return nil, fmt.Errorf("decrypt: %w: header: %v", ErrCorrupt, err)
	}
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("decrypt: %w: header: %v", ErrCorrupt, err)
	}
	dk, err := p.Unwrap(ctx, h.WrappedKey)
	if err != nil {
		return nil, fmt.Errorf("decrypt: object written with %s, reading with %s: %w", h.Provider, p.Name(), err)
	}
	aead, err := newGCM(dk)
	clear(dk)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w: %v", ErrWrongKey, err)
	}
	r := &decReader{src: br, cs: h.ChunkSize,
		seg:   make([]byte, h.ChunkSize+tagLen),
		plain: make([]byte, 0, h.ChunkSize)}
	r.c.aead = aead
	h256 := sha256.New()
	h256.Write(pre)
	h256.Write(hj)
	h256.Sum(r.c.digest[:0])
	copy(r.c.prefix[:], h.NoncePrefix)
	return r, nil
}

// decReader is the plaintext reader returned by Decrypt.
type decReader struct {
	src   *bufio.Reader
	c     chunkCrypto
	cs    int
	seg   []byte // one ciphertext chunk
	plain []byte // opened chunk
	out   []byte // what remains of plain to hand out
	idx   uint64 // index of the next chunk
	done  bool   // the final chunk has been opened
	err   error  // sticky
}

func (r *decReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			r.err = io.EOF
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			r.err = err
			clear(r.plain[:cap(r.plain)])
			return 0, err
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// next reads, authenticates and opens chunk r.idx.
func (r *decReader) next() error {
	if r.idx > math.MaxUint32 {
		return fmt.Errorf("decrypt: %w: more than 2^32 chunks", ErrCorrupt)
	}
	seg := r.seg
	n, err := io.ReadFull(r.src, seg)
	last := false
	switch {
	case err == nil:
		// A full chunk is the last one when nothing follows it.
		if _, perr := r.src.Peek(1); perr == io.EOF {
			last = true
		} else if perr != nil {
			return fmt.Errorf("decrypt: read chunk %d: %w", r.idx+1, perr)
		}
	case err == io.EOF && r.idx == 0:
		return fmt.Errorf("decrypt: %w: no chunk after the header", ErrTruncated)
	case err == io.EOF:
		return fmt.Errorf("decrypt: %w: ends after chunk %d, which is not the final chunk", ErrTruncated, r.idx-1)
	case err == io.ErrUnexpectedEOF:
		last = true
		seg = seg[:n]
	default:
		return fmt.Errorf("decrypt: read chunk %d: %w", r.idx, err)
	}
	if len(seg) < tagLen {
		return fmt.Errorf("decrypt: %w: chunk %d is %d bytes, shorter than its tag (cut short or extra bytes)", ErrCorrupt, r.idx, len(seg))
	}
	nonce, aad := r.c.params(r.idx, last)
	plain, err := r.c.aead.Open(r.plain[:0], nonce, seg, aad)
	if err != nil {
		if last {
			nonce, aad = r.c.params(r.idx, false)
			if _, err2 := r.c.aead.Open(r.plain[:0], nonce, seg, aad); err2 == nil {
				clear(r.plain[:cap(r.plain)])
				return fmt.Errorf("decrypt: %w: ends after chunk %d, which is not the final chunk", ErrTruncated, r.idx)
			}
		}
		return fmt.Errorf("decrypt: %w: chunk %d failed authentication (bytes changed, reordered, cut short or appended)", ErrCorrupt, r.idx)
	}
	r.plain = plain
	r.out = plain
	r.idx++
	r.done = last
	return nil
}

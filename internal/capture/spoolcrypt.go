package capture

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/glassbox-dev/glassbox/internal/keys"
)

// Spool encryption (segment format version 2, docs/formats/spool.md).
//
// When SpoolOptions.Keys is set, every segment the spool opens gets a fresh
// data key from the provider (one NewDataKey per segment, never per
// record). The wrapped key is stored in a key frame right after the segment
// header, and every record frame's payload is sealed with AES-256-GCM in the
// writer goroutine before its CRC is computed over the stored (sealed)
// bytes:
//
//	nonce = nonce prefix (4 random bytes of the key frame) || frame index uint64 LE
//	AAD   = "GBSPOOL2" || seq uint64 LE || created int64 LE || frame index uint64 LE
//
// The frame index counts the record frames of the segment from 0, so a
// record moved, dropped from the middle or spliced in from another segment
// fails authentication. The CRC still tells a torn tail (a crash) from a
// bad frame; a frame whose CRC is good but which fails authentication was
// not torn by a crash, so such a segment, like one whose key cannot be
// unwrapped, is held (kept in the folder, never truncated or deleted).

const (
	segmentMagicV2    = "GBSPOOL2"
	keyFrameVersion   = 2
	noncePrefixSize   = 4
	spoolAADSize      = 32
	spoolKeyTimeout   = 30 * time.Second
	heldRetryInterval = time.Minute
)

// keyFrame is the payload of the first frame of an encrypted segment.
type keyFrame struct {
	prefix   [noncePrefixSize]byte
	provider string // Name() of the provider that wrapped the key, for messages
	wrapped  []byte
}

// appendKeyFrame appends kf as a frame (length, crc, payload):
//
//	version uint8 = 2 | nonce prefix [4] | name_len uint16 | name | wrapped key (the rest)
func appendKeyFrame(dst []byte, kf keyFrame) []byte {
	name := kf.provider
	if len(name) > 1<<10 {
		name = name[:1<<10]
	}
	plen := 1 + noncePrefixSize + 2 + len(name) + len(kf.wrapped)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(plen))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	p := len(dst)
	dst = append(dst, keyFrameVersion)
	dst = append(dst, kf.prefix[:]...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(name)))
	dst = append(dst, name...)
	dst = append(dst, kf.wrapped...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[p:], castagnoli))
	return dst
}

// decodeKeyFrame reads the payload of a key frame.
func decodeKeyFrame(p []byte) (keyFrame, error) {
	var kf keyFrame
	if len(p) < 1+noncePrefixSize+2 || p[0] != keyFrameVersion {
		return kf, fmt.Errorf("%w: bad key frame", errTorn)
	}
	copy(kf.prefix[:], p[1:1+noncePrefixSize])
	i := 1 + noncePrefixSize
	n := int(binary.LittleEndian.Uint16(p[i:]))
	i += 2
	if len(p) < i+n+1 {
		return kf, fmt.Errorf("%w: short key frame", errTorn)
	}
	kf.provider = string(p[i : i+n])
	kf.wrapped = append([]byte(nil), p[i+n:]...)
	return kf, nil
}

// segmentCipher seals and opens the record frames of one encrypted
// segment. seal uses buffers of the cipher and is for the writer goroutine
// only; open may be called from any goroutine.
type segmentCipher struct {
	aead   cipher.AEAD
	prefix [noncePrefixSize]byte
	aad    [spoolAADSize]byte // the frame index (last 8 bytes) is set per frame
	nonce  [12]byte           // writer's buffer
	wbuf   [spoolAADSize]byte // writer's AAD buffer
}

func newSegmentCipher(key []byte, prefix [noncePrefixSize]byte, seq uint64, created time.Time) (*segmentCipher, error) {
	if len(key) != keys.DataKeySize {
		return nil, fmt.Errorf("spool data key of %d bytes, want %d", len(key), keys.DataKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	c := &segmentCipher{aead: aead, prefix: prefix}
	copy(c.aad[:8], segmentMagicV2)
	binary.LittleEndian.PutUint64(c.aad[8:16], seq)
	binary.LittleEndian.PutUint64(c.aad[16:24], uint64(created.UnixNano()))
	copy(c.nonce[:], prefix[:])
	c.wbuf = c.aad
	return c, nil
}

// sealFrame appends a frame holding payload sealed as record frame idx.
func (c *segmentCipher) sealFrame(dst, payload []byte, idx uint64) []byte {
	binary.LittleEndian.PutUint64(c.nonce[noncePrefixSize:], idx)
	binary.LittleEndian.PutUint64(c.wbuf[24:], idx)
	n := len(payload) + c.aead.Overhead()
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	p := len(dst)
	dst = c.aead.Seal(dst, c.nonce[:], payload, c.wbuf[:])
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[p:], castagnoli))
	return dst
}

// open appends the plaintext of the sealed payload of record frame idx.
func (c *segmentCipher) open(dst, sealed []byte, idx uint64) ([]byte, error) {
	var nonce [12]byte
	copy(nonce[:], c.prefix[:])
	binary.LittleEndian.PutUint64(nonce[noncePrefixSize:], idx)
	aad := c.aad
	binary.LittleEndian.PutUint64(aad[24:], idx)
	return c.aead.Open(dst, nonce[:], sealed, aad[:])
}

// dataKey is a data key from the provider (or why there is none).
type dataKey struct {
	plain, wrapped []byte
	err            error
}

func fetchDataKey(p keys.Provider) dataKey {
	ctx, cancel := context.WithTimeout(context.Background(), spoolKeyTimeout)
	defer cancel()
	plain, wrapped, err := p.NewDataKey(ctx)
	if err != nil {
		err = fmt.Errorf("new spool data key from %s: %w", p.Name(), err)
	}
	return dataKey{plain: plain, wrapped: wrapped, err: err}
}

// segmentKey makes the data key and key frame of a new encrypted segment.
// It runs in the writer goroutine. The key of the next segment is fetched
// in the background, so that a remote provider (KMS) is not waited for
// when a segment rolls; a failed prefetch is retried here.
func (s *Spool) segmentKey(seq uint64, created time.Time) (*segmentCipher, keyFrame, error) {
	var dk dataKey
	if s.keyPending {
		dk = <-s.keyAhead
		s.keyPending = false
	}
	if dk.err != nil || dk.plain == nil {
		dk = fetchDataKey(s.opts.Keys)
	}
	s.keyPending = true
	go func() { s.keyAhead <- fetchDataKey(s.opts.Keys) }() // never blocks: one in flight, the channel holds one
	if dk.err != nil {
		return nil, keyFrame{}, dk.err
	}
	return newSpoolKey(s.opts.Keys, dk, seq, created)
}

// newSpoolKey makes the cipher and key frame of a segment from a data key.
func newSpoolKey(p keys.Provider, dk dataKey, seq uint64, created time.Time) (*segmentCipher, keyFrame, error) {
	plain, wrapped := dk.plain, dk.wrapped
	defer clear(plain)
	kf := keyFrame{provider: p.Name(), wrapped: wrapped}
	if _, err := rand.Read(kf.prefix[:]); err != nil {
		return nil, keyFrame{}, fmt.Errorf("new spool nonce prefix: %w", err)
	}
	c, err := newSegmentCipher(plain, kf.prefix, seq, created)
	if err != nil {
		return nil, keyFrame{}, err
	}
	return c, kf, nil
}

// errSpoolNoKeys is why an encrypted segment cannot be read by a spool
// without a key provider.
var errSpoolNoKeys = errors.New("the segment is encrypted and no key provider is configured (keys section)")

// unwrapSpoolKey returns the cipher of an encrypted segment, unwrapping its
// data key with p (nil p: errSpoolNoKeys).
func unwrapSpoolKey(p keys.Provider, h segmentHeader, kf keyFrame) (*segmentCipher, error) {
	if p == nil {
		return nil, fmt.Errorf("%w; it was encrypted with %s", errSpoolNoKeys, kf.provider)
	}
	ctx, cancel := context.WithTimeout(context.Background(), spoolKeyTimeout)
	defer cancel()
	plain, err := p.Unwrap(ctx, kf.wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrap the segment's data key (encrypted with %s, configured %s): %w", kf.provider, p.Name(), err)
	}
	defer clear(plain)
	return newSegmentCipher(plain, kf.prefix, h.seq, h.created)
}

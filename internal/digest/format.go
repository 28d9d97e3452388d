package digest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Format names version 1 of the digest body; it is the "format" field.
const Format = "glassbox-digest/1"

// Magic starts the first line of every version-1 digest object.
const Magic = "glassbox-digest-v1"

// signingContext is prepended to the body to form the signed message, so a
// signature over a digest can never be replayed as a signature over
// anything else the same key signs.
const signingContext = Magic + "\n"

// Prefix is the folder, relative to the bucket root, that holds every
// digest and the published public key.
const Prefix = "_digests"

// PublicKeyKey is the key of the published public-key document.
const PublicKeyKey = Prefix + "/public-key.json"

// Reasons a digest was written; the "reason" field.
const (
	ReasonStart    = "start"    // first digest of an endpoint after the process started
	ReasonHourly   = "hourly"   // the UTC hour changed
	ReasonFlush    = "flush"    // many objects were pending, or Flush was called
	ReasonShutdown = "shutdown" // the process is stopping; the endpoint gets no digest until the next start
)

// maxDigestBytes bounds what ParseDigest accepts (and what Verify reads).
const maxDigestBytes = 256 << 20

// Body is the signed content of a digest object (docs/formats/digest.md).
type Body struct {
	Format   string `json:"format"`
	Endpoint string `json:"endpoint"`
	// Key is where the digest is stored; a digest found anywhere else was
	// moved.
	Key      string `json:"key"`
	Sequence uint64 `json:"sequence"`
	Reason   string `json:"reason"`
	// StartTime is the previous digest's EndTime (or, for the first digest
	// of a chain, when the writer started); EndTime is when this digest was
	// sealed. Both are UTC, RFC 3339 with nanoseconds.
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	// Previous links the chain; nil only for the first digest.
	Previous *Link `json:"previous"`
	// PublicKeyFingerprint names the key that signs this digest.
	PublicKeyFingerprint string `json:"public_key_fingerprint"`
	// Objects are the capture objects stored since the previous digest, in
	// the order they were stored.
	Objects   []Object    `json:"objects"`
	Deleted   []Deleted   `json:"deleted"`
	Rewritten []Rewritten `json:"rewritten"`
}

// Link points at the previous digest of the chain.
type Link struct {
	Key      string `json:"key"`
	Sequence uint64 `json:"sequence"`
	// SHA256 is the hex SHA-256 of the previous digest object's bytes,
	// signature line included.
	SHA256 string `json:"sha256"`
}

// Object is one stored capture object.
type Object struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex, of the bytes as stored
}

// Deleted records an object the retention sweeper removed.
type Deleted struct {
	Key    string    `json:"key"`
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

// Rewritten records an object the retention sweeper replaced (for
// example with its payloads stripped).
type Rewritten struct {
	Key       string    `json:"key"`
	OldSize   int64     `json:"old_size"`
	OldSHA256 string    `json:"old_sha256"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
}

// Digest is a parsed digest object.
type Digest struct {
	Body
	// Fingerprint is the key fingerprint of the signature line.
	Fingerprint string
	// Signature is the Ed25519 signature over "glassbox-digest-v1\n" + RawBody.
	Signature []byte
	// RawBody is the exact body bytes that were signed.
	RawBody []byte
}

// Errors returned (wrapped) by ParseDigest and Digest.Verify.
var (
	ErrMalformed    = errors.New("malformed digest")
	ErrBadSignature = errors.New("digest signature does not verify")
	ErrUnknownKey   = errors.New("digest signed by an unexpected key")
)

// Fingerprint returns the fingerprint of an Ed25519 public key: the lower-
// case hex SHA-256 of its 32 raw bytes.
func Fingerprint(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:])
}

// Key returns the key of a digest: Prefix/{endpoint}/yyyy/mm/dd/HH/
// yyyymmddTHHMMSSZ-{sequence, 12 digits}.json, from its EndTime in UTC.
// Within an endpoint keys sort in chain order.
func Key(endpoint string, end time.Time, seq uint64) string {
	t := end.UTC()
	return fmt.Sprintf("%s/%s/%04d/%02d/%02d/%02d/%s-%012d.json", Prefix, endpoint,
		t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Format("20060102T150405Z"), seq)
}

// EndpointPrefix is the folder of an endpoint's digests.
func EndpointPrefix(endpoint string) string { return Prefix + "/" + endpoint + "/" }

// parseKey returns the hour folder and sequence a digest key names.
func parseKey(key string) (hour time.Time, seq uint64, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 7 || parts[0] != Prefix {
		return time.Time{}, 0, false
	}
	h, err := time.Parse("2006/01/02/15", strings.Join(parts[2:6], "/"))
	if err != nil {
		return time.Time{}, 0, false
	}
	name, found := strings.CutSuffix(parts[6], ".json")
	_, s, found2 := strings.Cut(name, "-")
	if !found || !found2 {
		return time.Time{}, 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return time.Time{}, 0, false
	}
	return h, n, true
}

// Sign encodes b as a digest object signed with priv: the signature line
// then the body (indented JSON ending in a newline). b.PublicKeyFingerprint
// is set from priv.
func Sign(b *Body, priv ed25519.PrivateKey) ([]byte, error) {
	pub := priv.Public().(ed25519.PublicKey)
	b.PublicKeyFingerprint = Fingerprint(pub)
	if b.Objects == nil {
		b.Objects = []Object{}
	}
	if b.Deleted == nil {
		b.Deleted = []Deleted{}
	}
	if b.Rewritten == nil {
		b.Rewritten = []Rewritten{}
	}
	body, err := json.MarshalIndent(b, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encode digest: %w", err)
	}
	body = append(body, '\n')
	sig := ed25519.Sign(priv, signedMessage(body))
	var out bytes.Buffer
	out.Grow(len(body) + 200)
	fmt.Fprintf(&out, "%s ed25519 %s %s\n", Magic, b.PublicKeyFingerprint, base64.StdEncoding.EncodeToString(sig))
	out.Write(body)
	return out.Bytes(), nil
}

func signedMessage(body []byte) []byte {
	msg := make([]byte, 0, len(signingContext)+len(body))
	msg = append(msg, signingContext...)
	return append(msg, body...)
}

// ParseDigest decodes a digest object. It checks the layout and the body's
// fields but not the signature: call Verify for that.
func ParseDigest(data []byte) (*Digest, error) {
	if len(data) > maxDigestBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(data), maxDigestBytes)
	}
	line, body, ok := bytes.Cut(data, []byte{'\n'})
	if !ok {
		return nil, fmt.Errorf("%w: no signature line", ErrMalformed)
	}
	f := strings.Split(string(line), " ")
	if len(f) != 4 || f[0] != Magic || f[1] != "ed25519" {
		return nil, fmt.Errorf("%w: signature line is not %q", ErrMalformed, Magic+" ed25519 FINGERPRINT SIGNATURE")
	}
	if !isHex(f[2], sha256.Size) {
		return nil, fmt.Errorf("%w: fingerprint is not 64 hex digits", ErrMalformed)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(f[3])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is not %d bytes of base64", ErrMalformed, ed25519.SignatureSize)
	}
	d := &Digest{Fingerprint: f[2], Signature: sig, RawBody: body}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d.Body); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: body: data after the JSON object", ErrMalformed)
	}
	if err := d.Body.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if d.PublicKeyFingerprint != d.Fingerprint {
		return nil, fmt.Errorf("%w: fingerprint of the signature line and of the body differ", ErrMalformed)
	}
	return d, nil
}

// check validates the fields of a decoded body.
func (b *Body) check() error {
	switch {
	case b.Format != Format:
		return fmt.Errorf("format %q, want %q", b.Format, Format)
	case b.Endpoint == "" || strings.ContainsAny(b.Endpoint, "/\x00"):
		return fmt.Errorf("endpoint %q is not a name", b.Endpoint)
	case b.Sequence == 0:
		return errors.New("sequence is 0")
	case b.EndTime.Before(b.StartTime):
		return errors.New("end_time is before start_time")
	}
	if b.Previous != nil && (b.Previous.Key == "" || !isHex(b.Previous.SHA256, sha256.Size)) {
		return errors.New("previous needs a key and a 64-digit hex sha256")
	}
	for _, o := range b.Objects {
		if o.Key == "" || o.Size < 0 || !isHex(o.SHA256, sha256.Size) {
			return fmt.Errorf("object %q: needs a key, a size >= 0 and a hex sha256", o.Key)
		}
	}
	for _, o := range b.Deleted {
		if o.Key == "" || o.Size < 0 || !isHex(o.SHA256, sha256.Size) {
			return fmt.Errorf("deleted object %q: needs a key, a size >= 0 and a hex sha256", o.Key)
		}
	}
	for _, o := range b.Rewritten {
		if o.Key == "" || o.Size < 0 || o.OldSize < 0 || !isHex(o.SHA256, sha256.Size) || !isHex(o.OldSHA256, sha256.Size) {
			return fmt.Errorf("rewritten object %q: needs a key, sizes >= 0 and hex sha256s", o.Key)
		}
	}
	return nil
}

// isHex reports whether s is exactly n bytes in lower-case hex.
func isHex(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Verify checks the signature with pub. It returns an error wrapping
// ErrUnknownKey when the digest names another key, ErrBadSignature when
// the signature does not verify.
func (d *Digest) Verify(pub ed25519.PublicKey) error {
	if fp := Fingerprint(pub); fp != d.Fingerprint {
		return fmt.Errorf("%w: signed by key %s, want %s", ErrUnknownKey, short(d.Fingerprint), short(fp))
	}
	if !ed25519.Verify(pub, signedMessage(d.RawBody), d.Signature) {
		return ErrBadSignature
	}
	return nil
}

func short(fp string) string {
	if len(fp) > 16 {
		return fp[:16]
	}
	return fp
}

// PublicKeyDoc is the published public key, stored at PublicKeyKey.
type PublicKeyDoc struct {
	Algorithm   string `json:"algorithm"`   // "ed25519"
	PublicKey   string `json:"public_key"`  // base64 of the 32 raw bytes
	Fingerprint string `json:"fingerprint"` // hex SHA-256 of the raw bytes
	PEM         string `json:"pem"`         // the same key as a PEM "PUBLIC KEY" (SPKI), for openssl
}

// NewPublicKeyDoc describes pub.
func NewPublicKeyDoc(pub ed25519.PublicKey) (PublicKeyDoc, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return PublicKeyDoc{}, fmt.Errorf("encode public key: %w", err)
	}
	return PublicKeyDoc{
		Algorithm:   "ed25519",
		PublicKey:   base64.StdEncoding.EncodeToString(pub),
		Fingerprint: Fingerprint(pub),
		PEM:         string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}, nil
}

// ParsePublicKey reads a public key from a PublicKeyDoc (JSON), a PEM
// "PUBLIC KEY" block, or 32 raw bytes in base64 or hex. A document whose
// fingerprint does not match its key is rejected.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	s := bytes.TrimSpace(data)
	if len(s) > 0 && s[0] == '{' {
		var doc PublicKeyDoc
		if err := json.Unmarshal(s, &doc); err != nil {
			return nil, fmt.Errorf("read public key document: %w", err)
		}
		pub, err := ParsePublicKey([]byte(doc.PublicKey))
		if err != nil {
			return nil, err
		}
		if doc.Fingerprint != "" && doc.Fingerprint != Fingerprint(pub) {
			return nil, errors.New("read public key document: the fingerprint does not match the key")
		}
		return pub, nil
	}
	if blk, _ := pem.Decode(s); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("read public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("read public key: not an Ed25519 key")
		}
		return pub, nil
	}
	if b, err := hex.DecodeString(string(s)); err == nil && len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	if b, err := base64.StdEncoding.DecodeString(string(s)); err == nil && len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	return nil, errors.New("read public key: want a public-key.json document, a PEM public key, or 32 bytes in hex or base64")
}

// hexSum returns the lower-case hex of a SHA-256 sum.
func hexSum(s [32]byte) string { return hex.EncodeToString(s[:]) }

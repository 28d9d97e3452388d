package keys

import (
	"bytes"
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// keyringFormat is the value of the "format" field of a keyring file.
const keyringFormat = "glassbox-keyring/v1"

// Local wrapped keys: a format byte, the big-endian key version, a random
// GCM nonce, then the data key sealed under that version's key with
// wrapAAD || format byte || version as additional data.
const (
	localWrapFormat = 0x01
	localWrapLen    = 1 + 4 + 12 + DataKeySize + 16
	wrapAAD         = "glassbox-keyring-wrap/v1"
)

// Permissions of what the keyring creates.
const (
	keyringFileMode = 0o600
	keyringDirMode  = 0o700
)

var _ Provider = (*Keyring)(nil)

// KeyringOptions configures OpenKeyring.
type KeyringOptions struct {
	// Create makes OpenKeyring create the keyring (with one key version,
	// the file 0600 and missing folders 0700) when the file does not exist.
	// The server sets it; readers do not, so a typo in the path is an error
	// rather than a fresh keyring that can decrypt nothing.
	Create bool
}

// KeyVersion describes one key of a keyring, without its bytes.
type KeyVersion struct {
	Version uint32    `json:"version"`
	Created time.Time `json:"created"`
	Current bool      `json:"current"`
}

// keyringFile is the JSON document stored at the keyring's path.
type keyringFile struct {
	Format  string       `json:"format"`
	Current uint32       `json:"current"`
	Keys    []keyringKey `json:"keys"`
}

type keyringKey struct {
	Version uint32    `json:"version"`
	Created time.Time `json:"created"`
	Key     []byte    `json:"key"` // 32 bytes, base64 in JSON
}

// Keyring is the local key Provider: a JSON file of versioned 256-bit key
// encryption keys (KEKs). Data keys are wrapped with AES-256-GCM under the
// current version; older versions stay in the file so that objects written
// before a Rotate remain readable. Secrets derive from the first version, so
// they do not change on rotation.
//
// The file must be readable by its owner only: OpenKeyring refuses a file
// that grants any permission to group or others. A Keyring notices when
// another process (glassbox keys rotate) changes the file: NewDataKey then
// uses the new current version, and Unwrap reloads when it meets an unknown
// version. Changes are made under an advisory lock on PATH.lock and written
// by the durable recipe (temporary file, fsync, rename, fsync of the
// folder), so no version is ever lost.
//
// A Keyring is safe for concurrent use.
type Keyring struct {
	path string

	mu    sync.Mutex
	file  keyringFile
	keks  map[uint32]cipher.AEAD
	first []byte    // key of the lowest version: the root of Secret
	stamp fileStamp // of the file as last loaded
}

// fileStamp identifies one state of the keyring file.
type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

func stampOf(fi fs.FileInfo) fileStamp {
	s := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// OpenKeyring loads the keyring at path, creating it first when it does not
// exist and opts.Create is set. It fails when the file grants permissions to
// group or others, is not a regular file, or is not a valid keyring.
func OpenKeyring(path string, opts KeyringOptions) (*Keyring, error) {
	if path == "" {
		return nil, errors.New("open keyring: empty path")
	}
	k := &Keyring{path: path}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && opts.Create {
		if err := k.create(); err != nil {
			return nil, err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.loadLocked(); err != nil {
		return nil, err
	}
	return k, nil
}

// Path returns the keyring file's path.
func (k *Keyring) Path() string { return k.path }

// Name returns "local:" followed by the keyring's path.
func (k *Keyring) Name() string { return "local:" + k.path }

// create writes a keyring with one key version, unless another process
// created it in the meantime.
func (k *Keyring) create() error {
	if err := os.MkdirAll(filepath.Dir(k.path), keyringDirMode); err != nil {
		return fmt.Errorf("create keyring folder: %w", err)
	}
	unlock, err := k.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(k.path); err == nil {
		return nil // created by another process while we waited
	}
	f := keyringFile{Format: keyringFormat}
	if err := addVersion(&f); err != nil {
		return err
	}
	return k.write(&f)
}

// lock takes the advisory lock that serializes changes to the keyring file
// between processes, and returns the function that releases it.
func (k *Keyring) lock() (func(), error) {
	lf, err := os.OpenFile(k.path+".lock", os.O_CREATE|os.O_RDWR, keyringFileMode)
	if err != nil {
		return nil, fmt.Errorf("lock keyring: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		_ = lf.Close()
		return nil, fmt.Errorf("lock keyring: %w", err)
	}
	return func() { _ = lf.Close() }, nil // closing releases the lock
}

// addVersion appends a fresh random key with the next version and makes it
// current.
func addVersion(f *keyringFile) error {
	var next uint32 = 1
	for _, kk := range f.Keys {
		if kk.Version >= next {
			next = kk.Version + 1
		}
	}
	if next == 0 {
		return errors.New("keyring has no version numbers left")
	}
	key := make([]byte, DataKeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	f.Keys = append(f.Keys, keyringKey{Version: next, Created: time.Now().UTC().Truncate(time.Second), Key: key})
	f.Current = next
	return nil
}

// write stores f at k.path by the durable recipe, with mode 0600.
func (k *Keyring) write(f *keyringFile) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode keyring: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(k.path)
	tmp, err := os.CreateTemp(dir, ".keyring-*.tmp")
	if err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // fails harmlessly after the rename
	if err := tmp.Chmod(keyringFileMode); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write keyring: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := os.Rename(tmp.Name(), k.path); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write keyring: sync folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write keyring: sync folder: %w", err)
	}
	return nil
}

// loadLocked reads and checks the keyring file. k.mu must be held.
func (k *Keyring) loadLocked() error {
	f, err := os.Open(k.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("open keyring %s: no such file (glassbox serve creates it on first start)", k.path)
		}
		return fmt.Errorf("open keyring: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open keyring: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("open keyring %s: not a regular file", k.path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("open keyring %s: permissions %04o let group or others read it; it must be private to its owner: run `chmod 600 %s`",
			k.path, perm, k.path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return fmt.Errorf("open keyring: %w", err)
	}
	var kf keyringFile
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kf); err != nil {
		return fmt.Errorf("open keyring %s: %w", k.path, err)
	}
	keks, first, err := checkKeyring(&kf)
	if err != nil {
		return fmt.Errorf("open keyring %s: %w", k.path, err)
	}
	k.file, k.keks, k.first, k.stamp = kf, keks, first, stampOf(fi)
	return nil
}

// checkKeyring validates a decoded keyring and returns its ciphers and the
// key of its lowest version.
func checkKeyring(f *keyringFile) (map[uint32]cipher.AEAD, []byte, error) {
	if f.Format != keyringFormat {
		return nil, nil, fmt.Errorf("format %q, want %q", f.Format, keyringFormat)
	}
	if len(f.Keys) == 0 {
		return nil, nil, errors.New("no keys")
	}
	keks := make(map[uint32]cipher.AEAD, len(f.Keys))
	var first []byte
	var firstVersion uint32
	for _, kk := range f.Keys {
		if kk.Version == 0 {
			return nil, nil, errors.New("key version 0: versions start at 1")
		}
		if _, dup := keks[kk.Version]; dup {
			return nil, nil, fmt.Errorf("key version %d appears twice", kk.Version)
		}
		if len(kk.Key) != DataKeySize {
			return nil, nil, fmt.Errorf("key version %d is %d bytes, want %d", kk.Version, len(kk.Key), DataKeySize)
		}
		aead, err := newGCM(kk.Key)
		if err != nil {
			return nil, nil, err
		}
		keks[kk.Version] = aead
		if first == nil || kk.Version < firstVersion {
			first, firstVersion = kk.Key, kk.Version
		}
	}
	if _, ok := keks[f.Current]; !ok {
		return nil, nil, fmt.Errorf("current version %d is not in the keyring", f.Current)
	}
	return keks, first, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

// refreshLocked reloads the file when another process changed it since it
// was loaded. k.mu must be held.
func (k *Keyring) refreshLocked() error {
	fi, err := os.Stat(k.path)
	if err != nil {
		return fmt.Errorf("open keyring: %w", err)
	}
	if stampOf(fi) == k.stamp {
		return nil
	}
	return k.loadLocked()
}

// Rotate adds a new key version, makes it current and returns it. Earlier
// versions stay for unwrapping. Running processes pick the new version up
// the next time they create a data key.
func (k *Keyring) Rotate() (uint32, error) {
	unlock, err := k.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.loadLocked(); err != nil { // the latest state, under the lock
		return 0, err
	}
	f := k.file
	f.Keys = append([]keyringKey(nil), f.Keys...)
	if err := addVersion(&f); err != nil {
		return 0, fmt.Errorf("rotate keyring: %w", err)
	}
	if err := k.write(&f); err != nil {
		return 0, fmt.Errorf("rotate keyring: %w", err)
	}
	if err := k.loadLocked(); err != nil {
		return 0, err
	}
	return k.file.Current, nil
}

// Versions lists the keyring's key versions in ascending order, as last
// loaded.
func (k *Keyring) Versions() []KeyVersion {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]KeyVersion, 0, len(k.file.Keys))
	for _, kk := range k.file.Keys {
		out = append(out, KeyVersion{Version: kk.Version, Created: kk.Created, Current: kk.Version == k.file.Current})
	}
	slices.SortFunc(out, func(a, b KeyVersion) int { return cmp.Compare(a.Version, b.Version) })
	return out
}

// NewDataKey returns a fresh data key wrapped under the current version
// (reloading the file first if another process rotated it).
func (k *Keyring) NewDataKey(ctx context.Context) (plain, wrapped []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.refreshLocked(); err != nil {
		return nil, nil, fmt.Errorf("new data key: %w", err)
	}
	plain = make([]byte, DataKeySize)
	if _, err := rand.Read(plain); err != nil {
		return nil, nil, fmt.Errorf("new data key: %w", err)
	}
	wrapped = make([]byte, 1+4+12, localWrapLen)
	wrapped[0] = localWrapFormat
	binary.BigEndian.PutUint32(wrapped[1:5], k.file.Current)
	if _, err := rand.Read(wrapped[5:17]); err != nil {
		return nil, nil, fmt.Errorf("new data key: %w", err)
	}
	aad := append([]byte(wrapAAD), wrapped[:5]...)
	wrapped = k.keks[k.file.Current].Seal(wrapped, wrapped[5:17], plain, aad)
	return plain, wrapped, nil
}

// Unwrap opens a data key wrapped by NewDataKey of this keyring (or of a
// copy of it). An unknown version makes it reload the file once, in case
// another process rotated the keyring.
func (k *Keyring) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(wrapped) != localWrapLen || wrapped[0] != localWrapFormat {
		return nil, fmt.Errorf("unwrap with keyring %s: %w: not a key wrapped by a local keyring", k.path, ErrWrongKey)
	}
	version := binary.BigEndian.Uint32(wrapped[1:5])
	k.mu.Lock()
	aead, ok := k.keks[version]
	if !ok {
		if err := k.refreshLocked(); err != nil {
			k.mu.Unlock()
			return nil, fmt.Errorf("unwrap: %w", err)
		}
		aead, ok = k.keks[version]
	}
	k.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unwrap with keyring %s: %w: key version %d is not in this keyring", k.path, ErrWrongKey, version)
	}
	aad := append([]byte(wrapAAD), wrapped[:5]...)
	plain, err := aead.Open(nil, wrapped[5:17], wrapped[17:], aad)
	if err != nil {
		return nil, fmt.Errorf("unwrap with keyring %s: %w: key version %d does not open it (another keyring, or the wrapped key was altered)",
			k.path, ErrWrongKey, version)
	}
	return plain, nil
}

// Secret derives the secret for purpose from the keyring's first key
// version (see DeriveSecret), so it survives rotations.
func (k *Keyring) Secret(ctx context.Context, purpose string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	root := k.first
	k.mu.Unlock()
	return DeriveSecret(root, purpose)
}

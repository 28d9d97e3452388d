// Package file implements objstore.Bucket over a folder on the local file
// system. Each object is one regular file; its key, with "/" as the path
// separator, is its path below the bucket's root folder.
//
// Writes follow the durable-write recipe: temp file in the target directory,
// write, fsync, rename over the target, fsync the directory. Readers therefore
// see either the whole old object or the whole new one, and an object whose
// Put returned nil survives a crash.
//
// This package imports only the standard library and the objstore port.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// Permissions of the directories and object files the bucket creates.
const (
	dirMode  = 0o750
	fileMode = 0o640
)

// Temp files are named tempPrefix + random + tempSuffix. List skips every
// regular file whose name starts with "." and ends with tempSuffix (see
// isTempName), and keys whose last segment has that shape are rejected as
// invalid.
const (
	tempPrefix = ".glassbox-"
	tempSuffix = ".tmp"
)

// createAttempts bounds how often Put recreates the parent directories when a
// concurrent Delete removes them between creation and use.
const createAttempts = 5

var _ objstore.Bucket = (*Bucket)(nil)

// Bucket is an objstore.Bucket stored in a local folder. It keeps no state
// besides the folder's path and is safe for concurrent use, including by
// several processes sharing the folder.
//
// Because objects are files, a key cannot also be a "folder" of other keys:
// Put("a/b") fails while an object "a" exists, and the other way round.
type Bucket struct {
	root string // absolute, cleaned path of the bucket's folder
}

// New returns a Bucket rooted at the folder root, creating it (mode 0750) if
// it does not exist. A relative root is made absolute against the current
// working directory.
func New(root string) (*Bucket, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolve bucket root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, fmt.Errorf("create bucket root: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("stat bucket root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open bucket root %q: not a directory", abs)
	}
	return &Bucket{root: abs}, nil
}

// Root returns the absolute path of the bucket's folder.
func (b *Bucket) Root() string { return b.root }

// String returns "file://" followed by the bucket's absolute root path.
func (b *Bucket) String() string { return "file://" + filepath.ToSlash(b.root) }

// Put stores the bytes read from r under key. It writes a temp file next to
// the target, fsyncs it, renames it over the target and fsyncs the directory;
// directories it creates are made durable by fsyncing their parents. On any
// error, including ctx ending while r is read, the temp file is removed and
// an existing object under key is left untouched.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader) (err error) {
	path, err := b.path(key)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	dir := filepath.Dir(path)

	f, err := b.createTemp(dir)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close() // may already be closed; the error is not news
			_ = os.Remove(tmp)
		}
	}()

	if _, err := io.Copy(f, ctxReader{ctx: ctx, r: r}); err != nil {
		return fmt.Errorf("put %q: write: %w", key, err)
	}
	if err := f.Chmod(fileMode); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("put %q: sync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("put %q: close: %w", key, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// createTemp creates dir and its missing parents durably and opens a new temp
// file in it. A concurrent Delete may remove a just-created, still empty
// directory, so a "does not exist" failure is retried a few times.
func (b *Bucket) createTemp(dir string) (*os.File, error) {
	var err error
	for range createAttempts {
		var f *os.File
		if err = b.mkdirAll(dir); err == nil {
			f, err = os.CreateTemp(dir, tempPrefix+"*"+tempSuffix)
		}
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, err
}

// mkdirAll creates dir and any missing parents below the root, fsyncing the
// parent of each directory it finds missing so that the new entry is durable.
func (b *Bucket) mkdirAll(dir string) error {
	// Collect the missing directories, deepest first.
	var missing []string
	for d := dir; d != b.root; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("create directory %q: an object occupies the path", d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("create directory: %w", err)
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		// A concurrent Put may create d first; the parent is fsynced anyway,
		// as this Put must not return before the entry is durable.
		if err := os.Mkdir(d, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create directory: %w", err)
		}
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// Get opens the object stored under key. The returned reader is an *os.File.
// It returns an error wrapping objstore.ErrNotFound when there is no object.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	path, err := b.path(key)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	f, err := os.Open(path)
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("get %q: %w", key, objstore.ErrNotFound)
		}
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		// A directory is a key prefix, not an object.
		_ = f.Close()
		return nil, fmt.Errorf("get %q: %w", key, objstore.ErrNotFound)
	}
	return f, nil
}

// Delete removes the object stored under key, then removes the directories
// that became empty, up to but not including the root, and fsyncs the
// directory that held the last removed entry. It returns an error wrapping
// objstore.ErrNotFound when there is no object.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	path, err := b.path(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		if isNotExist(err) {
			return fmt.Errorf("delete %q: %w", key, objstore.ErrNotFound)
		}
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("delete %q: %w", key, objstore.ErrNotFound)
	}
	if err := os.Remove(path); err != nil {
		if isNotExist(err) {
			return fmt.Errorf("delete %q: %w", key, objstore.ErrNotFound)
		}
		return fmt.Errorf("delete %q: %w", key, err)
	}
	// Remove now-empty parents. os.Remove fails on a non-empty directory,
	// which ends the climb; so does a directory a concurrent Delete removed.
	dir := filepath.Dir(path)
	for dir != b.root && len(dir) > len(b.root) {
		if os.Remove(dir) != nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	if err := syncDir(dir); err != nil && !isNotExist(err) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	return nil
}

// List calls fn for every object whose key starts with prefix, in ascending
// byte-lexical key order. It reads only the directories that can hold
// matching keys, one directory at a time, and skips temp files, files whose
// names cannot be keys, and anything that is neither a regular file nor a
// directory (symbolic links are not followed). It checks ctx before each
// object and returns ctx's error once ctx ends; it returns fn's first error
// unwrapped.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(objstore.ObjectInfo) error) error {
	if err := objstore.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Split the prefix into the directory it names in full and a partial
	// name that entries of that directory must start with.
	dirKey, partial := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey, partial = prefix[:i+1], prefix[i+1:]
	}
	w := walker{ctx: ctx, fn: fn}
	return w.walk(filepath.Join(b.root, filepath.FromSlash(dirKey)), dirKey, partial)
}

// walker carries the state of one List call through the recursion.
type walker struct {
	ctx context.Context
	fn  func(objstore.ObjectInfo) error
}

// walk lists the objects in dir, whose key prefix is dirKey ("" or ending in
// "/"), restricted to entries whose names start with partial. A directory
// that does not exist (never created, or removed by a concurrent Delete)
// holds no objects.
func (w *walker) walk(dir, dirKey, partial string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return fmt.Errorf("list: %w", err)
	}

	// Order entries by the keys they produce: a file yields name, a directory
	// yields keys starting name+"/". Sorting on those strings gives
	// byte-lexical key order ("a-c" before "a/b", as '-' < '/'), where
	// sorting on bare names would not.
	type item struct {
		sortKey string
		entry   fs.DirEntry
	}
	items := make([]item, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, partial) {
			continue
		}
		switch {
		case e.IsDir():
			items = append(items, item{name + "/", e})
		case e.Type().IsRegular() && !isTempName(name):
			items = append(items, item{name, e})
		}
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.sortKey, b.sortKey) })

	for _, it := range items {
		key := dirKey + it.sortKey
		if it.entry.IsDir() {
			if err := w.walk(filepath.Join(dir, it.entry.Name()), key, ""); err != nil {
				return err
			}
			continue
		}
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if objstore.ValidateKey(key) != nil {
			continue // e.g. a file with a backslash in its name, put there by hand
		}
		fi, err := it.entry.Info()
		if err != nil {
			if isNotExist(err) {
				continue // deleted since ReadDir
			}
			return fmt.Errorf("list: %w", err)
		}
		info := objstore.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
		if err := w.fn(info); err != nil {
			return err
		}
	}
	return nil
}

// path validates key and returns the file path that stores it.
func (b *Bucket) path(key string) (string, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return "", err
	}
	base := key[strings.LastIndexByte(key, '/')+1:]
	if isTempName(base) {
		return "", fmt.Errorf("validate key %q: %w: the file bucket reserves names starting with %q and ending with %q for temp files",
			key, objstore.ErrInvalidKey, ".", tempSuffix)
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), nil
}

// isTempName reports whether a file name has the shape of a temp file: a "."
// followed by at least one byte and tempSuffix (so ".tmp" itself is not).
func isTempName(name string) bool {
	return len(name) > len(tempSuffix) && strings.HasPrefix(name, ".") && strings.HasSuffix(name, tempSuffix)
}

// isNotExist reports whether err means the path does not exist, including a
// path one of whose parents is a file rather than a directory.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// syncDir fsyncs the directory dir so that entries created, renamed or
// removed in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}

// ctxReader reads from r until ctx ends, so that a cancelled Put stops
// reading a long or blocked-between-reads stream.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

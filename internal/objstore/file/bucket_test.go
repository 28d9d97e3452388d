package file_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
	"github.com/glassbox-dev/glassbox/internal/objstore/objstoretest"
)

func TestBucket_Contract(t *testing.T) {
	objstoretest.RunBucketTests(t, func(t *testing.T) objstore.Bucket {
		return mustNew(t, t.TempDir())
	})
}

// mustNew returns a file.Bucket rooted at root, failing tb on error.
func mustNew(tb testing.TB, root string) *file.Bucket {
	tb.Helper()
	b, err := file.New(root)
	if err != nil {
		tb.Fatalf("New(%q): %v", root, err)
	}
	return b
}

// failingReader yields n bytes and then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// allFiles returns the slash-separated paths of every non-directory entry
// below root.
func allFiles(tb testing.TB, root string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("walk %s: %v", root, err)
	}
	return out
}

func TestBucket_PutFailsMidway(t *testing.T) {
	boom := errors.New("reader broke")

	t.Run("new object", func(t *testing.T) {
		root := t.TempDir()
		b := mustNew(t, root)
		err := b.Put(t.Context(), "a/b/obj", &failingReader{n: 100 << 10, err: boom})
		if !errors.Is(err, boom) {
			t.Fatalf("Put error = %v, want one wrapping the reader's error", err)
		}
		if _, err := b.Get(t.Context(), "a/b/obj"); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Get after failed Put error = %v, want ErrNotFound", err)
		}
		if got := allFiles(t, root); len(got) != 0 {
			t.Errorf("failed Put left files behind: %q", got)
		}
	})

	t.Run("overwrite keeps old object", func(t *testing.T) {
		root := t.TempDir()
		b := mustNew(t, root)
		objstoretest.MustPut(t, b, "k", []byte("old"))
		err := b.Put(t.Context(), "k", &failingReader{n: 10, err: boom})
		if !errors.Is(err, boom) {
			t.Fatalf("Put error = %v, want one wrapping the reader's error", err)
		}
		if got := string(objstoretest.MustGet(t, b, "k")); got != "old" {
			t.Errorf("Get after failed overwrite = %q, want %q", got, "old")
		}
		if diff := cmp.Diff([]string{"k"}, allFiles(t, root)); diff != "" {
			t.Errorf("files mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("context cancelled", func(t *testing.T) {
		root := t.TempDir()
		b := mustNew(t, root)
		ctx, cancel := context.WithCancel(t.Context())
		r := readerFunc(func(p []byte) (int, error) {
			cancel() // the context ends while the body is streaming
			return copy(p, "partial"), nil
		})
		if err := b.Put(ctx, "c", r); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put error = %v, want context.Canceled", err)
		}
		if got := allFiles(t, root); len(got) != 0 {
			t.Errorf("cancelled Put left files behind: %q", got)
		}
	})
}

// readerFunc adapts a function to io.Reader.
type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestBucket_ListSkipsTempFiles(t *testing.T) {
	root := t.TempDir()
	b := mustNew(t, root)
	objstoretest.MustPut(t, b, "d/real", []byte("real"))
	for _, name := range []string{".glassbox-123.tmp", "d/.glassbox-456.tmp", "d/.real.tmp"} {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"", "d/", "d/.glassbox", ".glassbox", "d/.r"} {
		want := []string{"d/real"}
		if strings.Contains(prefix, ".") {
			want = nil
		}
		if diff := cmp.Diff(want, objstoretest.MustListKeys(t, b, prefix)); diff != "" {
			t.Errorf("List(%q) mismatch (-want +got):\n%s", prefix, diff)
		}
	}
}

func TestBucket_TempShapedKeysRejected(t *testing.T) {
	b := mustNew(t, t.TempDir())
	for _, key := range []string{".x.tmp", "a/.glassbox-1.tmp"} {
		if err := b.Put(t.Context(), key, strings.NewReader("x")); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("Put(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
	// A dot file that is not temp-shaped is an ordinary key.
	objstoretest.MustPut(t, b, "a/.hidden", []byte("x"))
	objstoretest.MustPut(t, b, ".tmp", []byte("x")) // no "." before the suffix: not temp-shaped
	if diff := cmp.Diff([]string{".tmp", "a/.hidden"}, objstoretest.MustListKeys(t, b, "")); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
}

func TestBucket_DeleteRemovesEmptyDirs(t *testing.T) {
	root := filepath.Join(t.TempDir(), "bucket")
	b := mustNew(t, root)
	objstoretest.MustPut(t, b, "a/b/c/obj", []byte("x"))
	objstoretest.MustPut(t, b, "a/keep", []byte("x"))
	if err := b.Delete(t.Context(), "a/b/c/obj"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a/b still exists after its last object was deleted (stat error %v)", err)
	}
	if _, err := os.Stat(filepath.Join(root, "a")); err != nil {
		t.Errorf("a was removed although it holds a/keep: %v", err)
	}
	if err := b.Delete(t.Context(), "a/keep"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	fi, err := os.Stat(root)
	if err != nil || !fi.IsDir() {
		t.Fatalf("root was removed by Delete: %v", err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("root not empty after deleting everything: %v", entries)
	}
}

func TestBucket_GetReturnsFile(t *testing.T) {
	b := mustNew(t, t.TempDir())
	objstoretest.MustPut(t, b, "f", []byte("x"))
	rc, err := b.Get(t.Context(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	if _, ok := rc.(*os.File); !ok {
		t.Errorf("Get returned %T, want *os.File", rc)
	}
	if _, err := io.ReadAll(rc); err != nil {
		t.Fatal(err)
	}
}

func TestNew(t *testing.T) {
	t.Run("creates missing root", func(t *testing.T) {
		root := filepath.Join(t.TempDir(), "x", "y")
		b := mustNew(t, root)
		fi, err := os.Stat(root)
		if err != nil || !fi.IsDir() {
			t.Fatalf("root not created: %v", err)
		}
		if got, want := b.String(), "file://"+filepath.ToSlash(root); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		if b.Root() != root {
			t.Errorf("Root() = %q, want %q", b.Root(), root)
		}
	})

	t.Run("relative root made absolute", func(t *testing.T) {
		t.Chdir(t.TempDir())
		b := mustNew(t, "rel")
		if !filepath.IsAbs(b.Root()) {
			t.Errorf("Root() = %q, want an absolute path", b.Root())
		}
	})

	t.Run("root is a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := file.New(path); err == nil {
			t.Error("New on a regular file succeeded, want an error")
		}
	})
}

func TestBucket_KeyFolderConflict(t *testing.T) {
	b := mustNew(t, t.TempDir())
	objstoretest.MustPut(t, b, "a", []byte("x"))
	if err := b.Put(t.Context(), "a/b", strings.NewReader("y")); err == nil {
		t.Error(`Put("a/b") with object "a" present succeeded, want an error`)
	}
	if got := string(objstoretest.MustGet(t, b, "a")); got != "x" {
		t.Errorf("Get(a) = %q after the failed Put, want %q", got, "x")
	}
}

func TestBucket_ConcurrentPutDelete(t *testing.T) {
	// Deletes remove now-empty directories that concurrent Puts are about to
	// write into; every Put must still succeed.
	b := mustNew(t, t.TempDir())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				key := fmt.Sprintf("race/shared/dir/g%d-%d", g, i)
				if err := b.Put(t.Context(), key, strings.NewReader(key)); err != nil {
					t.Errorf("Put(%q): %v", key, err)
					return
				}
				if err := b.Delete(t.Context(), key); err != nil {
					t.Errorf("Delete(%q): %v", key, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := objstoretest.MustListKeys(t, b, ""); len(got) != 0 {
		t.Errorf("objects left after all were deleted: %q", got)
	}
}

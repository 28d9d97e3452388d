// Package objstoretest is the contract suite every objstore.Bucket
// implementation must pass. An implementation's test calls RunBucketTests
// with a constructor for fresh, empty buckets:
//
//	func TestBucket(t *testing.T) {
//		objstoretest.RunBucketTests(t, func(t *testing.T) objstore.Bucket {
//			b, err := file.New(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			return b
//		})
//	}
//
// The suite avoids keys that are both an object and a "folder" of other
// objects ("a" and "a/b"), which object stores allow but a file system
// cannot hold.
//
// This package is a test helper: only test code may import it.
package objstoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// RunBucketTests runs the objstore.Bucket contract as subtests of t.
// newBucket is called once per subtest and must return a fresh, empty bucket;
// it should register any cleanup with t.Cleanup.
func RunBucketTests(t *testing.T, newBucket func(t *testing.T) objstore.Bucket) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, b objstore.Bucket)
	}{
		{"PutGetRoundTrip", testPutGetRoundTrip},
		{"OverwriteReplaces", testOverwriteReplaces},
		{"GetMissing", testGetMissing},
		{"DeleteThenGet", testDeleteThenGet},
		{"DeleteMissing", testDeleteMissing},
		{"ListOrder", testListOrder},
		{"ListPrefix", testListPrefix},
		{"ListSizes", testListSizes},
		{"ListStopsOnError", testListStopsOnError},
		{"InvalidKeys", testInvalidKeys},
		{"InvalidPrefixes", testInvalidPrefixes},
		{"KeyLengthLimit", testKeyLengthLimit},
		{"ConcurrentPuts", testConcurrentPuts},
		{"ListContextCancelled", testListContextCancelled},
		{"String", testString},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newBucket(t))
		})
	}
}

func testPutGetRoundTrip(t *testing.T, b objstore.Bucket) {
	tests := []struct {
		name string
		key  string
		data []byte
	}{
		{"small", "rt/small.jsonl", []byte(`{"captureData":{}}` + "\n")},
		{"empty", "rt/empty", []byte{}},
		{"3MiB", "rt/nested/deeper/big.bin", randomBytes(3 << 20)},
		{"top level", "top", []byte("top-level key")},
		{"unicode", "rt/ünïcødé €.txt", []byte("unicode key")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			MustPut(t, b, tt.key, tt.data)
			got := MustGet(t, b, tt.key)
			if !bytes.Equal(got, tt.data) {
				t.Fatalf("Get(%q) returned %d bytes, want the %d bytes put", tt.key, len(got), len(tt.data))
			}
		})
	}
}

func testOverwriteReplaces(t *testing.T, b objstore.Bucket) {
	MustPut(t, b, "ow/k", []byte("first version, longer than the second"))
	MustPut(t, b, "ow/k", []byte("second"))
	if got := string(MustGet(t, b, "ow/k")); got != "second" {
		t.Errorf("Get after overwrite = %q, want %q", got, "second")
	}
	want := []objstore.ObjectInfo{{Key: "ow/k", Size: int64(len("second"))}}
	if diff := cmp.Diff(want, MustList(t, b, ""), ignoreModTime()); diff != "" {
		t.Errorf("List after overwrite mismatch (-want +got):\n%s", diff)
	}
}

func testGetMissing(t *testing.T, b objstore.Bucket) {
	MustPut(t, b, "gm/present", []byte("x"))
	for _, key := range []string{"gm/absent", "absent", "gm/present/below", "gm"} {
		rc, err := b.Get(t.Context(), key)
		if err == nil {
			_ = rc.Close()
		}
		if !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want one wrapping ErrNotFound", key, err)
		}
	}
}

func testDeleteThenGet(t *testing.T, b objstore.Bucket) {
	MustPut(t, b, "del/a/obj", []byte("doomed"))
	MustPut(t, b, "del/keep", []byte("kept"))
	if err := b.Delete(t.Context(), "del/a/obj"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	rc, err := b.Get(t.Context(), "del/a/obj")
	if err == nil {
		_ = rc.Close()
	}
	if !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Get after Delete error = %v, want one wrapping ErrNotFound", err)
	}
	if diff := cmp.Diff([]string{"del/keep"}, MustListKeys(t, b, "")); diff != "" {
		t.Errorf("List after Delete mismatch (-want +got):\n%s", diff)
	}
	if got := string(MustGet(t, b, "del/keep")); got != "kept" {
		t.Errorf("Get(del/keep) = %q, want %q", got, "kept")
	}
}

func testDeleteMissing(t *testing.T, b objstore.Bucket) {
	if err := b.Delete(t.Context(), "never/put"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Delete(never/put) error = %v, want one wrapping ErrNotFound", err)
	}
	MustPut(t, b, "twice", []byte("x"))
	if err := b.Delete(t.Context(), "twice"); err != nil {
		t.Fatalf("first Delete: %v", err)
	}
	if err := b.Delete(t.Context(), "twice"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("second Delete error = %v, want one wrapping ErrNotFound", err)
	}
}

func testListOrder(t *testing.T, b objstore.Bucket) {
	// "a-c" sorts before "a/b" because '-' (0x2d) < '/' (0x2f), and "a.txt"
	// ('.' is 0x2e) falls between them; a walk that sorts by path segment
	// gets this wrong. "ü" (0xc3 0xbc) sorts after "z".
	keys := []string{
		"z", "a/b", "a-c", "a/c/d", "a0", "a.txt", "ü/x", "a/b-c/d",
		"a/b.x", "a/a", "aa/b", "b", "a/c/d-e/f", "a/c/d0",
	}
	for _, k := range keys {
		MustPut(t, b, k, []byte(k))
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if diff := cmp.Diff(want, MustListKeys(t, b, "")); diff != "" {
		t.Errorf("List order mismatch (-want +got):\n%s", diff)
	}
}

func testListPrefix(t *testing.T, b objstore.Bucket) {
	for _, k := range []string{
		"w",
		"x/y/2021-12-31.jsonl",
		"x/y/2022-01-01.jsonl",
		"x/y/2022-02-01.jsonl",
		"x/y/2022-05/deep.jsonl",
		"x/y/2022-10-01.jsonl",
		"x/y/2023-01-01.jsonl",
		"x/y-other",
		"x/yz",
		"x/z/2022-01-01.jsonl",
	} {
		MustPut(t, b, k, []byte(k))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"x/y/", []string{
			"x/y/2021-12-31.jsonl", "x/y/2022-01-01.jsonl", "x/y/2022-02-01.jsonl",
			"x/y/2022-05/deep.jsonl", "x/y/2022-10-01.jsonl", "x/y/2023-01-01.jsonl",
		}},
		{"x/y/2022-0", []string{
			"x/y/2022-01-01.jsonl", "x/y/2022-02-01.jsonl", "x/y/2022-05/deep.jsonl",
		}},
		{"x/y", []string{
			"x/y-other",
			"x/y/2021-12-31.jsonl", "x/y/2022-01-01.jsonl", "x/y/2022-02-01.jsonl",
			"x/y/2022-05/deep.jsonl", "x/y/2022-10-01.jsonl", "x/y/2023-01-01.jsonl",
			"x/yz",
		}},
		{"x/y/2022-05", []string{"x/y/2022-05/deep.jsonl"}},
		{"x/y/2022-05/", []string{"x/y/2022-05/deep.jsonl"}},
		{"x/y/2022-01-01.jsonl", []string{"x/y/2022-01-01.jsonl"}},
		{"x/z/", []string{"x/z/2022-01-01.jsonl"}},
		{"w", []string{"w"}},
		{"w/", nil},
		{"nope/", nil},
		{"x/y/2024", nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			got := MustListKeys(t, b, tt.prefix)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("List(%q) mismatch (-want +got):\n%s", tt.prefix, diff)
			}
		})
	}
}

func testListSizes(t *testing.T, b objstore.Bucket) {
	MustPut(t, b, "sz/empty", nil)
	MustPut(t, b, "sz/one", []byte("1"))
	MustPut(t, b, "sz/sub/kib", bytes.Repeat([]byte("k"), 1024))
	want := []objstore.ObjectInfo{
		{Key: "sz/empty", Size: 0},
		{Key: "sz/one", Size: 1},
		{Key: "sz/sub/kib", Size: 1024},
	}
	got := MustList(t, b, "sz/")
	if diff := cmp.Diff(want, got, ignoreModTime()); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
	for _, oi := range got {
		if oi.ModTime.IsZero() {
			t.Errorf("List returned a zero ModTime for %q", oi.Key)
		}
	}
}

func testListStopsOnError(t *testing.T, b objstore.Bucket) {
	for _, k := range []string{"e/1", "e/2", "e/3"} {
		MustPut(t, b, k, []byte(k))
	}
	stop := errors.New("stop here")
	var seen []string
	err := b.List(t.Context(), "", func(oi objstore.ObjectInfo) error {
		seen = append(seen, oi.Key)
		if len(seen) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("List error = %v, want the error fn returned", err)
	}
	if diff := cmp.Diff([]string{"e/1", "e/2"}, seen); diff != "" {
		t.Errorf("fn calls mismatch (-want +got):\n%s", diff)
	}
}

// badKeys returns keys every Bucket must reject with ErrInvalidKey.
func badKeys() []struct{ name, key string } {
	return []struct{ name, key string }{
		{"empty", ""},
		{"leading slash", "/a"},
		{"only slash", "/"},
		{"trailing slash", "a/"},
		{"empty segment", "a//b"},
		{"dot", "."},
		{"dot segment", "a/./b"},
		{"leading dot segment", "./a"},
		{"dot dot", ".."},
		{"dot dot segment", "a/../b"},
		{"escaping dot dot", "../a"},
		{"trailing dot dot", "a/.."},
		{"backslash", `a\b`},
		{"windows traversal", `..\a`},
		{"NUL", "a\x00b"},
		{"invalid UTF-8", "a/\xff\xfe"},
		{"too long", strings.Repeat("k", objstore.MaxKeyLen+1)},
	}
}

func testInvalidKeys(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	for _, tt := range badKeys() {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.Put(ctx, tt.key, strings.NewReader("x")); !errors.Is(err, objstore.ErrInvalidKey) {
				t.Errorf("Put(%q) error = %v, want one wrapping ErrInvalidKey", tt.key, err)
			}
			rc, err := b.Get(ctx, tt.key)
			if err == nil {
				_ = rc.Close()
			}
			if !errors.Is(err, objstore.ErrInvalidKey) {
				t.Errorf("Get(%q) error = %v, want one wrapping ErrInvalidKey", tt.key, err)
			}
			if err := b.Delete(ctx, tt.key); !errors.Is(err, objstore.ErrInvalidKey) {
				t.Errorf("Delete(%q) error = %v, want one wrapping ErrInvalidKey", tt.key, err)
			}
			if err := objstore.ValidateKey(tt.key); !errors.Is(err, objstore.ErrInvalidKey) {
				t.Errorf("ValidateKey(%q) error = %v, want one wrapping ErrInvalidKey", tt.key, err)
			}
		})
	}
	if got := MustListKeys(t, b, ""); len(got) != 0 {
		t.Errorf("rejected Puts left objects behind: %q", got)
	}
}

func testInvalidPrefixes(t *testing.T, b objstore.Bucket) {
	MustPut(t, b, "a/b", []byte("x"))
	for _, prefix := range []string{
		"/", "/a", "a//", "a//b", "./", "a/./", "..", "../", "a/..", "a/../",
		`a\`, "a\x00", "\xff", strings.Repeat("p", objstore.MaxKeyLen+1),
	} {
		err := b.List(t.Context(), prefix, func(oi objstore.ObjectInfo) error {
			t.Errorf("List(%q) called fn with %q", prefix, oi.Key)
			return nil
		})
		if !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("List(%q) error = %v, want one wrapping ErrInvalidKey", prefix, err)
		}
	}
}

func testKeyLengthLimit(t *testing.T, b objstore.Bucket) {
	// Segments of 100 bytes keep each path element within file system limits.
	var sb strings.Builder
	for sb.Len() < objstore.MaxKeyLen {
		if sb.Len() > 0 {
			sb.WriteByte('/')
		}
		sb.WriteString(strings.Repeat("s", min(99, objstore.MaxKeyLen-sb.Len())))
	}
	key := sb.String()
	if len(key) != objstore.MaxKeyLen {
		t.Fatalf("test bug: key has %d bytes, want %d", len(key), objstore.MaxKeyLen)
	}
	MustPut(t, b, key, []byte("longest"))
	if got := string(MustGet(t, b, key)); got != "longest" {
		t.Errorf("Get(longest key) = %q, want %q", got, "longest")
	}
	if diff := cmp.Diff([]string{key}, MustListKeys(t, b, "")); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
}

func testConcurrentPuts(t *testing.T, b objstore.Bucket) {
	const n = 50
	var want []string
	var wg sync.WaitGroup
	for i := range n {
		// Keys share parent "folders" so implementations that create
		// directories race with each other.
		key := fmt.Sprintf("concurrent/%d/obj-%02d", i%5, i)
		want = append(want, key)
		wg.Go(func() {
			if err := b.Put(t.Context(), key, strings.NewReader(key)); err != nil {
				t.Errorf("Put(%q): %v", key, err)
			}
		})
	}
	wg.Wait()
	slices.Sort(want)
	if diff := cmp.Diff(want, MustListKeys(t, b, "concurrent/")); diff != "" {
		t.Errorf("List after concurrent Puts mismatch (-want +got):\n%s", diff)
	}
	for _, key := range want {
		if got := string(MustGet(t, b, key)); got != key {
			t.Errorf("Get(%q) = %q, want the key itself", key, got)
		}
	}
}

func testListContextCancelled(t *testing.T, b objstore.Bucket) {
	for _, k := range []string{"cx/1", "cx/2", "cx/sub/3"} {
		MustPut(t, b, k, []byte(k))
	}

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := b.List(ctx, "", func(objstore.ObjectInfo) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Errorf("List with cancelled ctx error = %v, want context.Canceled", err)
		}
	})

	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		calls := 0
		err := b.List(ctx, "", func(objstore.ObjectInfo) error {
			calls++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("List error = %v, want context.Canceled", err)
		}
		if calls != 1 {
			t.Errorf("fn called %d times, want 1 (List must stop once ctx ends)", calls)
		}
	})
}

func testString(t *testing.T, b objstore.Bucket) {
	if b.String() == "" {
		t.Error("String() is empty")
	}
}

// ignoreModTime compares ObjectInfo values without their store-assigned
// modification time.
func ignoreModTime() cmp.Option { return cmpopts.IgnoreFields(objstore.ObjectInfo{}, "ModTime") }

// MustPut stores data under key in b, failing tb on error. The data is passed
// through a reader that hides its length, as a stream would.
func MustPut(tb testing.TB, b objstore.Bucket, key string, data []byte) {
	tb.Helper()
	r := struct{ io.Reader }{bytes.NewReader(data)}
	if err := b.Put(tb.Context(), key, r); err != nil {
		tb.Fatalf("Put(%q): %v", key, err)
	}
}

// MustGet returns the bytes stored under key in b, failing tb on error.
func MustGet(tb testing.TB, b objstore.Bucket, key string) []byte {
	tb.Helper()
	rc, err := b.Get(tb.Context(), key)
	if err != nil {
		tb.Fatalf("Get(%q): %v", key, err)
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("read %q: %v", key, err)
	}
	return data
}

// MustList returns what List reports for prefix, in order, failing tb on
// error.
func MustList(tb testing.TB, b objstore.Bucket, prefix string) []objstore.ObjectInfo {
	tb.Helper()
	var out []objstore.ObjectInfo
	err := b.List(tb.Context(), prefix, func(oi objstore.ObjectInfo) error {
		out = append(out, oi)
		return nil
	})
	if err != nil {
		tb.Fatalf("List(%q): %v", prefix, err)
	}
	return out
}

// MustListKeys returns the keys List reports for prefix, in order, failing tb
// on error.
func MustListKeys(tb testing.TB, b objstore.Bucket, prefix string) []string {
	tb.Helper()
	var keys []string
	for _, oi := range MustList(tb, b, prefix) {
		keys = append(keys, oi.Key)
	}
	return keys
}

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(n int) []byte {
	buf := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{'g', 'l', 'a', 's', 's'}).Read(buf)
	return buf
}

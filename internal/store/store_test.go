package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/store"
	"github.com/glassbox-dev/glassbox/internal/store/storetest"
	"github.com/glassbox-dev/glassbox/internal/testenv"
)

// mustOpen opens url for t and closes it when t ends.
func mustOpen(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), url, store.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

func TestDB_SQLite(t *testing.T) {
	storetest.RunStoreTests(t, func(t *testing.T) *store.DB {
		return mustOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "glassbox.db"))
	})
}

func TestDB_Postgres(t *testing.T) {
	cluster := testenv.PostgresCluster(t)
	storetest.RunStoreTests(t, func(t *testing.T) *store.DB {
		db := mustOpen(t, cluster.NewDatabase(t))
		if db.Dialect() != store.DialectPostgres {
			t.Fatalf("Dialect() = %q", db.Dialect())
		}
		return db
	})
}

func TestOpen_SQLitePaths(t *testing.T) {
	dir := t.TempDir()
	// Parent folders are created; a relative path is relative to the
	// working directory.
	db := mustOpen(t, "sqlite://"+filepath.Join(dir, "a", "b", "glassbox.db"))
	if db.Dialect() != store.DialectSQLite {
		t.Errorf("Dialect() = %q, want %q", db.Dialect(), store.DialectSQLite)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "b", "glassbox.db")); err != nil {
		t.Errorf("database file: %v", err)
	}
	t.Chdir(dir)
	mustOpen(t, "sqlite://rel/glassbox.db")
	if _, err := os.Stat(filepath.Join(dir, "rel", "glassbox.db")); err != nil {
		t.Errorf("relative database file: %v", err)
	}
}

func TestOpen_BadURL(t *testing.T) {
	for _, url := range []string{
		"",
		"mysql://localhost/x",
		"sqlite://",
		"sqlite://:memory:",
		"sqlite:///tmp/x.db?_pragma=foo",
		"postgres://[::1",
	} {
		_, err := store.Open(t.Context(), url, store.Options{})
		if code := glassbox.ErrorCode(err); code != glassbox.EInvalid {
			t.Errorf("Open(%q) = %v (code %q), want code %q", url, err, code, glassbox.EInvalid)
		}
	}
}

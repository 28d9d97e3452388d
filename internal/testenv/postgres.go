package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDSNEnv names the environment variable that points tests at a
// PostgreSQL cluster shared by the whole test run (scripts/test.sh sets it):
// a URL-form DSN of a superuser on the cluster's admin database, e.g.
// postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable.
const PostgresDSNEnv = "GLASSBOX_TEST_POSTGRES_DSN"

// How long a private cluster may take to accept connections, and to shut
// down before it is killed.
const (
	pgReadyTimeout = 30 * time.Second
	pgStopTimeout  = 10 * time.Second
)

// pgHint tells a developer how to get PostgreSQL.
const pgHint = "run `bash scripts/test.sh` (it starts a shared cluster and sets " + PostgresDSNEnv +
	"), or install PostgreSQL server binaries (Debian: apt-get install postgresql)"

// Postgres returns the DSN of a fresh, empty database for t, dropped (WITH
// FORCE) when t ends. It is PostgresCluster(t).NewDatabase(t): with
// GLASSBOX_TEST_POSTGRES_DSN set it costs one CREATE DATABASE on the shared
// cluster; without it, it starts a private cluster (about 1-2 s). Tests that
// need many databases should call PostgresCluster once and NewDatabase per
// database.
func Postgres(t testing.TB) string {
	t.Helper()
	return PostgresCluster(t).NewDatabase(t)
}

// PGCluster is a running PostgreSQL cluster that tests may create databases
// on. Its methods are safe for concurrent use.
type PGCluster struct {
	// AdminDSN connects as a superuser to the cluster's admin database.
	AdminDSN string

	// A private cluster started by StartPostgres; nil cmd for a shared one.
	dir     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once cmd has been waited for
	stop    sync.Once
}

// PostgresCluster returns the shared cluster named by
// GLASSBOX_TEST_POSTGRES_DSN when set (failing t if it does not answer), or
// else a private cluster for t from StartPostgres.
func PostgresCluster(t testing.TB) *PGCluster {
	t.Helper()
	dsn := os.Getenv(PostgresDSNEnv)
	if dsn == "" {
		return StartPostgres(t)
	}
	if _, err := url.Parse(dsn); err != nil || !strings.HasPrefix(dsn, "postgres") {
		t.Fatalf("%s=%q: want a URL such as postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", PostgresDSNEnv, dsn)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := pgPing(ctx, dsn); err != nil {
		t.Fatalf("PostgreSQL from %s is not reachable: %v", PostgresDSNEnv, err)
	}
	return &PGCluster{AdminDSN: dsn}
}

// StartPostgres starts a private throwaway cluster for t: initdb into a new
// temporary folder, then the postgres server in the foreground on a free
// 127.0.0.1 port with fsync off. It is stopped and its folder removed when t
// ends; should the test process die first, the server gets SIGQUIT from the
// kernel (parent-death signal) and exits. As root, initdb and the server
// run as the "postgres" user, since PostgreSQL refuses to run as root. If the
// binaries are not installed, Missing is called.
func StartPostgres(t testing.TB) *PGCluster {
	t.Helper()
	bin, err := FindPostgresBin()
	if err != nil {
		Missing(t, "PostgreSQL not available (%v): %s", err, pgHint)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			Missing(t, "PostgreSQL cannot run as root and there is no postgres user (%v): %s", err, pgHint)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "glassbox-pg-")
	if err != nil {
		t.Fatalf("create cluster folder: %v", err)
	}
	c := &PGCluster{dir: dir, logPath: filepath.Join(dir, "server.log")}
	t.Cleanup(c.Stop)
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("chown cluster folder: %v", err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// A port found free can be taken before the server binds it: retry.
	for attempt := 1; ; attempt++ {
		err := c.start(bin, data, cred)
		if err == nil {
			return c
		}
		if attempt == 3 {
			t.Fatalf("start PostgreSQL: %v", err)
		}
	}
}

// start runs the server on a free port and waits until it accepts
// connections.
func (c *PGCluster) start(bin, data string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("find a free port: %w", err)
	}
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	defer func() { _ = logFile.Close() }() // the child holds its own descriptor
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", c.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300")
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // an exit status after a signal is expected
		close(done)
	}()
	c.cmd, c.done = cmd, done
	c.AdminDSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)

	ctx, cancel := context.WithTimeout(context.Background(), pgReadyTimeout)
	defer cancel()
	var last error
	for {
		if last = pgPing(ctx, c.AdminDSN); last == nil {
			return nil
		}
		select {
		case <-done:
			c.cmd, c.done = nil, nil
			return fmt.Errorf("the server exited\n--- tail of %s ---\n%s", c.logPath, tail(c.logPath, 2048))
		case <-ctx.Done():
			c.kill()
			return fmt.Errorf("not ready after %s: %v\n--- tail of %s ---\n%s", pgReadyTimeout, last, c.logPath, tail(c.logPath, 2048))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts a private cluster down (fast shutdown, then SIGKILL after 10s)
// and removes its folder. It does nothing for a shared cluster.
func (c *PGCluster) Stop() {
	c.stop.Do(func() {
		if c.cmd != nil {
			c.kill()
		}
		if c.dir != "" {
			_ = os.RemoveAll(c.dir)
		}
	})
}

// kill stops the server process and waits for it.
func (c *PGCluster) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
	select {
	case <-c.done:
	case <-time.After(pgStopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd, c.done = nil, nil
}

// NewDatabase creates a database with a unique name on the cluster and
// returns its DSN; the database is dropped WITH (FORCE) when t ends.
func (c *PGCluster) NewDatabase(t testing.TB) string {
	t.Helper()
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	name := "glassbox_test_" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := pgExec(ctx, c.AdminDSN, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pgExec(ctx, c.AdminDSN, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(c.AdminDSN)
	if err != nil {
		t.Fatalf("parse admin DSN: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// FindPostgresBin returns the folder holding initdb and postgres: the
// newest /usr/lib/postgresql/<version>/bin (Debian layout), else the folder
// of initdb found in PATH (symbolic links resolved).
func FindPostgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("no initdb and postgres in /usr/lib/postgresql/*/bin or PATH")
}

// pgVersion returns the major version in a /usr/lib/postgresql/N/bin path.
func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// isExecutable reports whether path is a regular executable file.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// pgPing connects to dsn and closes the connection.
func pgPing(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// pgExec runs one statement (outside a transaction) on dsn.
func pgExec(ctx context.Context, dsn, stmt string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, stmt)
	return err
}

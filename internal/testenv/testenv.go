// Package testenv locates the real dependencies that integration tests need
// (for now moto_server, an S3/KMS/SageMaker emulator) and decides what a test
// does when one is missing: skip on a developer machine, fail under CI=true,
// so that CI can never pass by silently skipping.
//
// This package is a test helper: only test code may import it (archtest
// enforces this). Its helpers call t.Fatal/t.Skip and t.Setenv, so they must
// run on the test's own goroutine, and AWSEnv cannot be used in parallel
// tests.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MotoEndpointEnv names the environment variable that points tests at a
// moto_server shared by the whole test run (scripts/test.sh sets it).
const MotoEndpointEnv = "GLASSBOX_TEST_MOTO_ENDPOINT"

// Credentials and region that AWSEnv and CreateBucket use. moto accepts any
// credentials; these are the conventional ones.
const (
	AccessKeyID     = "test"
	SecretAccessKey = "test"
	Region          = "us-east-1"
)

// How long to wait for moto_server to answer after starting it, and for a
// stopped one to exit before it is killed.
const (
	motoReadyTimeout = 20 * time.Second
	motoStopTimeout  = 5 * time.Second
)

// motoHint tells a developer how to get moto_server.
const motoHint = "run `bash scripts/test.sh` (it starts a shared moto_server and sets " +
	MotoEndpointEnv + "), or make `python3 -c 'import moto.server'` work (pip install 'moto[server]')"

// InCI reports whether the tests run under CI: the CI environment variable is
// "true" or "1".
func InCI() bool {
	v := os.Getenv("CI")
	return v == "true" || v == "1"
}

// Missing reports that a test dependency is missing. format and args say what
// is missing and how to get it. Under CI it fails the test with t.Fatalf; on
// a developer machine it skips the test with t.Skipf.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (failing, not skipping, because CI is set)", msg)
	}
	t.Skip(msg)
}

// Moto returns the base URL ("http://127.0.0.1:PORT") of a moto_server for t.
//
// If GLASSBOX_TEST_MOTO_ENDPOINT is set (scripts/test.sh sets it), Moto checks
// that the server answers and returns it; that server is shared by every test
// in the run, so tests must use unique bucket names (see UniqueName). A set
// but unreachable endpoint fails the test.
//
// Otherwise Moto starts a private server for t with StartMoto, stopped when t
// ends; call it once per top-level test and share the URL among subtests, as
// each start costs about a second. If moto is not installed, Missing is
// called.
func Moto(t testing.TB) string {
	t.Helper()
	if ep := strings.TrimRight(os.Getenv(MotoEndpointEnv), "/"); ep != "" {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if err := waitReady(ctx, ep, nil); err != nil {
			t.Fatalf("moto_server from %s=%s is not ready: %v", MotoEndpointEnv, ep, err)
		}
		return ep
	}
	return StartMoto(t).URL
}

// MotoServer is a moto_server process listening on a loopback port. Stop and
// Start may be called repeatedly (an outage test stops the store and starts
// it again); the port stays the same, so URL stays valid.
//
// moto keeps all state in memory: after Stop and Start every bucket, object
// and key is gone, and a test that needs a bucket after a restart must
// create it again (CreateBucket).
//
// The server also exits when the test process dies without stopping it (it
// watches its stdin, a pipe from this process), so a test binary killed by
// -timeout leaves no stray server behind.
type MotoServer struct {
	// URL is the server's base URL, "http://127.0.0.1:PORT".
	URL string

	python  string // path of the real Python interpreter (not a pyenv shim)
	port    int
	logPath string // stdout and stderr of every run, appended

	mu    sync.Mutex
	cmd   *exec.Cmd      // nil while stopped
	stdin io.WriteCloser // closing it makes the watchdog exit the server
	done  chan struct{}  // closed once cmd has been waited for
}

// watchdog runs moto_server's main in-process after starting a thread that
// exits the interpreter once stdin reaches EOF, i.e. once the parent test
// process has closed the pipe or died.
const watchdog = `import os, sys, threading
def _watch():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=_watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
`

// StartMoto starts a private moto_server for t on a free loopback port, waits
// until it answers (up to 20s), and registers t.Cleanup(Stop). If python3 or
// moto's server module is missing, it calls Missing; if moto is installed but
// does not start, it fails the test and includes the tail of moto's output.
func StartMoto(t testing.TB) *MotoServer {
	t.Helper()
	python, err := findMotoPython(t.Context())
	if err != nil {
		Missing(t, "moto_server not available (%v): %s", err, motoHint)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("find a free port for moto_server: %v", err)
	}
	m := &MotoServer{
		URL:     "http://127.0.0.1:" + strconv.Itoa(port),
		python:  python,
		port:    port,
		logPath: filepath.Join(t.TempDir(), "moto.log"),
	}
	t.Cleanup(m.Stop) // registered after TempDir, so it runs before the removal
	if err := m.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	return m
}

// Start starts the server on its port, if it is not running, and waits until
// it answers. The new server starts empty (see MotoServer). If the server
// does not become ready within 20s, Start stops it and returns an error that
// includes the tail of its output.
func (m *MotoServer) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return nil
	}
	logFile, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open moto log: %w", err)
	}
	defer func() { _ = logFile.Close() }() // the child holds its own descriptor

	cmd := exec.Command(m.python, "-c", watchdog, "-H", "127.0.0.1", "-p", strconv.Itoa(m.port))
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("moto stdin pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		_ = stdin.Close()
		return fmt.Errorf("start %s: %w", m.python, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // an exit status after SIGTERM is expected
		close(done)
	}()
	m.cmd, m.stdin, m.done = cmd, stdin, done

	ctx, cancel := context.WithTimeout(context.Background(), motoReadyTimeout)
	defer cancel()
	if err := waitReady(ctx, m.URL, done); err != nil {
		m.stopLocked()
		return fmt.Errorf("moto_server on %s: %w\n--- tail of %s ---\n%s", m.URL, err, m.logPath, tail(m.logPath, 2048))
	}
	return nil
}

// Stop terminates the server (SIGTERM, then SIGKILL after 5s) and waits for
// it to exit. It does nothing if the server is not running.
func (m *MotoServer) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopLocked()
}

// stopLocked is Stop with m.mu held.
func (m *MotoServer) stopLocked() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(motoStopTimeout):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	_ = m.stdin.Close()
	m.cmd, m.stdin, m.done = nil, nil, nil
}

// findMotoPython returns the path of a Python interpreter that can import
// moto's server module. It asks python3 for sys.executable so that the
// process started later is the interpreter itself, not a pyenv shim wrapping
// it.
func findMotoPython(ctx context.Context) (string, error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return "", errors.New("python3 not found in PATH")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, py, "-c", "import sys, moto.server; print(sys.executable)")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:] // the exception line, e.g. ModuleNotFoundError
		}
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("python3 cannot import moto.server: %s", msg)
	}
	exe := strings.TrimSpace(string(out))
	if exe == "" {
		return py, nil
	}
	return exe, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, err
	}
	return port, nil
}

// waitReady polls GET base+"/moto-api/" until it returns 200, ctx ends, or
// exited (if not nil) is closed because the server process ended.
func waitReady(ctx context.Context, base string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	url := base + "/moto-api/"
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-exited:
			return errors.New("the server process exited")
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last error: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tail returns up to the last n bytes of the file at path, or a note saying
// why it could not be read.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer func() { _ = f.Close() }()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return string(b)
}

// CreateBucket creates the bucket name on the S3 endpoint (moto) with the
// test credentials in us-east-1, using path-style addressing. It fails t on
// error, including when the bucket already exists.
func CreateBucket(t testing.TB, endpoint, name string) {
	t.Helper()
	client := s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		DisableLogOutputChecksumValidationSkipped: true,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %q on %s: %v", name, endpoint, err)
	}
}

// AWSEnv points the AWS SDK's default configuration chain at endpoint for
// the rest of t: static test credentials, region us-east-1, AWS_ENDPOINT_URL,
// no profile, session token, S3-specific endpoint or instance metadata. It
// uses t.Setenv, so t and its parents must not be parallel.
func AWSEnv(t testing.TB, endpoint string) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretAccessKey)
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "") // restores the old value when t ends
		if err := os.Unsetenv(k); err != nil {
			t.Fatalf("unset %s: %v", k, err)
		}
	}
}

// UniqueName returns a new S3-valid bucket name starting with prefix: the
// prefix lowercased, with characters other than a-z, 0-9 and "-" replaced by
// "-", shortened to fit, then "-" and 16 random hex digits. moto's state lives
// as long as its process, so tests sharing a server need a fresh name each
// time.
func UniqueName(prefix string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(prefix) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		default:
			sb.WriteByte('-')
		}
	}
	// 63 bytes at most: prefix (≤ 46) + "-" + 16 hex digits.
	p := strings.Trim(sb.String(), "-")
	if len(p) > 46 {
		p = strings.TrimRight(p[:46], "-")
	}
	if p == "" {
		p = "test"
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	return p + "-" + hex.EncodeToString(rnd[:])
}

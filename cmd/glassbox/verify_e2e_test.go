package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/digest"
)

// serveSession runs glassbox serve on cfgPath until the caller stops it:
// the returned function shuts it down gracefully (which writes the
// shutdown digests) and fails the test if that fails.
func serveSession(t *testing.T, cfgPath string) (url string, stop func()) {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	addr, stopServe := serveInProcess(t, cfg, io.Discard)
	url = "http://" + addr
	stop = func() {
		if err := stopServe(); err != nil {
			t.Errorf("serve returned %v", err)
		}
	}
	t.Cleanup(stop)
	return url, stop
}

// runVerify runs 'glassbox verify' and returns its exit code and the
// decoded JSON report.
func runVerify(t *testing.T, args ...string) (int, map[string]any) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"verify", "--output", "json"}, args...), &out, &errOut)
	var rep map[string]any
	if code == exitOK || code == exitVerifyFailed {
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("verify output is not JSON: %v\n%s\nstderr: %s", err, out.String(), errOut.String())
		}
	} else {
		t.Logf("verify exit %d, stderr: %s", code, errOut.String())
	}
	return code, rep
}

// kinds counts the findings of a JSON report by kind.
func kinds(rep map[string]any) map[string]int {
	out := map[string]int{}
	hours, _ := rep["hours"].([]any)
	for _, h := range hours {
		fs, _ := h.(map[string]any)["findings"].([]any)
		for _, f := range fs {
			out[f.(map[string]any)["kind"].(string)]++
		}
	}
	return out
}

// copyTree copies the folder src to a new temporary folder.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// filesUnder lists the files below dir/rel, sorted, as paths relative to dir.
func filesUnder(t *testing.T, dir, rel string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(filepath.Join(dir, rel), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			r, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(r))
		}
		return nil
	})
	return out
}

func TestVerify_EndToEnd(t *testing.T) {
	m := startTestModel(t, echoModel("application/json"))
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "glassbox.yaml")
	yaml := fmt.Sprintf("server:\n  listen: 127.0.0.1:0\n  shutdown_timeout: 10s\nstorage:\n  blob: file://%s\n  spool: %s\nlog:\n  level: error\n%s",
		data, filepath.Join(dir, "spool"), endpointYAML("vep", m.URL, ""))
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	// Two sessions, so the chain crosses a restart: start and shutdown
	// digests of each.
	for session := range 2 {
		url, stop := serveSession(t, cfgPath)
		for i := range 3 {
			resp, body := post(t, url+"/endpoints/vep/invocations", "application/json", fmt.Appendf(nil, `{"s":%d,"i":%d}`, session, i), nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("invoke: %d %s", resp.StatusCode, body)
			}
		}
		stop() // writes the shutdown digest
	}
	digests := filesUnder(t, data, "_digests/vep")
	objects := filesUnder(t, data, "vep")
	if len(digests) < 4 || len(objects) == 0 {
		t.Fatalf("digests %v, objects %v; want at least 4 digests and some objects", digests, objects)
	}
	if _, err := os.Stat(filepath.Join(data, filepath.FromSlash(digest.PublicKeyKey))); err != nil {
		t.Errorf("public key not published: %v", err)
	}

	code, rep := runVerify(t, "--config", cfgPath, "--endpoint", "vep")
	if code != exitOK || rep["ok"] != true {
		t.Fatalf("verify of an intact record: exit %d, findings %v", code, kinds(rep))
	}
	if rep["public_key_pinned"] != true {
		t.Error("the key was not pinned from the local signing key")
	}
	if n := int(rep["objects"].(float64)); n != len(objects) {
		t.Errorf("verify checked %d objects, want %d", n, len(objects))
	}

	// Tamper with copies of the data folder, one way each.
	path := func(root, rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	// Digests sort in chain order: [0] start and [1] shutdown of session 1.
	cases := []struct {
		name   string
		tamper func(root string) error
		want   string
	}{
		{"modified byte", func(root string) error {
			p := path(root, objects[0])
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0x20
			return os.WriteFile(p, b, 0o600)
		}, "object_modified"},
		{"deleted object", func(root string) error { return os.Remove(path(root, objects[0])) }, "object_missing"},
		{"foreign object", func(root string) error {
			p := path(root, strings.Replace(objects[0], ".jsonl", "-x.jsonl", 1))
			return os.WriteFile(p, []byte(`{"forged":true}`+"\n"), 0o600)
		}, "object_added"},
		{"deleted digest", func(root string) error { return os.Remove(path(root, digests[1])) }, "digest_missing"},
		{"corrupt signature", func(root string) error {
			p := path(root, digests[1])
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			nl := bytes.IndexByte(b, '\n')
			sig := b[bytes.LastIndexByte(b[:nl], ' ')+1 : nl]
			if sig[0] == 'A' {
				sig[0] = 'B'
			} else {
				sig[0] = 'A'
			}
			return os.WriteFile(p, b, 0o600)
		}, "digest_bad_signature"},
		{"swapped digests", func(root string) error {
			a, err := os.ReadFile(path(root, digests[1]))
			if err != nil {
				return err
			}
			b, err := os.ReadFile(path(root, digests[2]))
			if err != nil {
				return err
			}
			if err := os.WriteFile(path(root, digests[1]), b, 0o600); err != nil {
				return err
			}
			return os.WriteFile(path(root, digests[2]), a, 0o600)
		}, "digest_reordered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := copyTree(t, data)
			if err := c.tamper(root); err != nil {
				t.Fatal(err)
			}
			code, rep := runVerify(t, "--config", cfgPath, "--endpoint", "vep", "--blob", "file://"+root)
			got := kinds(rep)
			if code != exitVerifyFailed || got[c.want] == 0 {
				t.Fatalf("exit %d, findings %v; want exit %d with %s", code, got, exitVerifyFailed, c.want)
			}
		})
	}

	t.Run("text output", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run([]string{"verify", "--config", cfgPath, "--endpoint", "vep"}, &out, &errOut); code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		for _, want := range []string{"HOUR (UTC)", "MODIFIED", "BAD-SIGNATURE", "OK: the record is intact"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("text output lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("usage", func(t *testing.T) {
		if code, _ := runVerify(t, "--config", cfgPath); code != exitUsage {
			t.Errorf("verify without --endpoint: exit %d, want %d", code, exitUsage)
		}
	})
}

// TestVerify_EncryptedEndpoint: the digests list the stored (encrypted)
// bytes, verify needs no decryption, and the signing key comes from the
// key provider.
func TestVerify_EncryptedEndpoint(t *testing.T) {
	m := startTestModel(t, echoModel("application/json"))
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfgPath := filepath.Join(dir, "glassbox.yaml")
	yaml := fmt.Sprintf(`server:
  listen: 127.0.0.1:0
  shutdown_timeout: 10s
storage:
  blob: file://%s
  spool: %s
keys:
  provider: local
  keyring: %q
log:
  level: error
%s`, data, filepath.Join(dir, "spool"), filepath.Join(dir, "keys", "keyring.json"),
		endpointYAML("sealed", m.URL, "      encrypt: true\n"))
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stop := serveSession(t, cfgPath)
	for i := range 3 {
		if resp, body := post(t, url+"/endpoints/sealed/invocations", "application/json", fmt.Appendf(nil, `{"i":%d}`, i), nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("invoke: %d %s", resp.StatusCode, body)
		}
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, "spool", "digest", digestKeyFile)); err == nil {
		t.Error("a local signing key was created although a key provider is configured")
	}
	code, rep := runVerify(t, "--config", cfgPath, "--endpoint", "sealed")
	if code != exitOK || rep["public_key_pinned"] != true || rep["objects"].(float64) == 0 {
		t.Fatalf("verify: exit %d, pinned %v, objects %v, findings %v", code, rep["public_key_pinned"], rep["objects"], kinds(rep))
	}
}

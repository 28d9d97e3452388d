package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/config"
)

// testCA is a certificate authority made up for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // PEM of cert
	pool *x509.CertPool
}

// newTestCA creates a CA and writes its certificate to dir/name.pem.
func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, file: filepath.Join(dir, name+".pem"), pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	writeFileAtomic(t, ca.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return ca
}

// issue signs a leaf certificate with the given serial for 127.0.0.1,
// ::1 and the DNS names (a server certificate when names are given, a
// client certificate otherwise) and returns it and its key as PEM.
func (ca *testCA) issue(t *testing.T, serial int64, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("leaf-%d", serial)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(names) > 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = names
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// issueFiles is issue writing dir/base.crt and dir/base.key.
func (ca *testCA) issueFiles(t *testing.T, dir, base string, serial int64, names ...string) (certFile, keyFile string) {
	t.Helper()
	c, k := ca.issue(t, serial, names...)
	certFile, keyFile = filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	writeFileAtomic(t, certFile, c)
	writeFileAtomic(t, keyFile, k)
	return certFile, keyFile
}

// keyPair is issue as a tls.Certificate.
func (ca *testCA) keyPair(t *testing.T, serial int64, names ...string) tls.Certificate {
	t.Helper()
	c, k := ca.issue(t, serial, names...)
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// writeFileAtomic replaces path the way certificate tools do: a new file
// renamed over the old one.
func writeFileAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// tlsServe runs serve with the given server and endpoints sections (YAML,
// already indented under server:) and returns the bound address and what
// serve logged (and wrote to stderr).
func tlsServe(t *testing.T, serverYAML, endpointsYAML string) (addr string, logs *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf("server:\n  shutdown_timeout: 10s\n%s\nstorage:\n  blob: file://%s\n  spool: %s\n  metadata: sqlite://%s\nlog:\n  level: info\n%s",
		serverYAML, filepath.Join(dir, "data"), filepath.Join(dir, "spool"), filepath.Join(dir, "glassbox.db"), endpointsYAML)
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, yaml)
	}
	logs = &lockedBuffer{}
	addr, stop := serveInProcess(t, cfg, logs)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve returned %v\n%s", err, logs)
		}
	})
	return addr, logs
}

// httpsClient trusts roots and presents cert, if any, even to a server
// that names other CAs; it opens a new connection for every request, so
// each one sees the certificate served right then.
func httpsClient(roots *x509.CertPool, cert ...tls.Certificate) *http.Client {
	cfg := &tls.Config{RootCAs: roots}
	if len(cert) > 0 {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert[0], nil }
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   cfg,
		DisableKeepAlives: true,
	}}
}

// getStatus GETs url and returns the status and the serial of the server
// certificate, or the error.
func getStatus(c *http.Client, url string) (int, *big.Int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber, nil
}

func TestTLS_Serve(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "server-ca")
	certFile, keyFile := ca.issueFiles(t, dir, "server", 100, "localhost")
	addr, logs := tlsServe(t, fmt.Sprintf("  listen: 127.0.0.1:0\n  tls:\n    cert_file: %s\n    key_file: %s", certFile, keyFile), "")
	url := "https://" + addr + "/healthz"

	t.Run("a client trusting the CA is served", func(t *testing.T) {
		status, serial, err := getStatus(httpsClient(ca.pool), url)
		if err != nil || status != http.StatusOK || serial.Int64() != 100 {
			t.Fatalf("GET %s = %d, serial %v, %v; want 200 from serial 100", url, status, serial, err)
		}
	})
	t.Run("other clients fail verification", func(t *testing.T) {
		if _, _, err := getStatus(httpsClient(x509.NewCertPool()), url); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Errorf("GET without the CA: err = %v, want unknown authority", err)
		}
	})
	t.Run("clear HTTP is not served", func(t *testing.T) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz")
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("plain HTTP got 200")
			}
		}
	})
	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Error("TLS 1.1 handshake succeeded")
		}
	})
	t.Run("no clear-text warning", func(t *testing.T) {
		if strings.Contains(logs.String(), "CLEAR TEXT") {
			t.Errorf("warned about clear text:\n%s", logs)
		}
	})
}

func TestTLS_CertificateReload(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "server-ca")
	certFile, keyFile := ca.issueFiles(t, dir, "server", 1, "localhost")
	addr, logs := tlsServe(t, fmt.Sprintf("  listen: 127.0.0.1:0\n  tls:\n    cert_file: %s\n    key_file: %s", certFile, keyFile), "")
	c := httpsClient(ca.pool)
	url := "https://" + addr + "/healthz"
	wantSerial := func(t *testing.T, want int64) {
		t.Helper()
		status, serial, err := getStatus(c, url)
		if err != nil || status != http.StatusOK || serial.Int64() != want {
			t.Fatalf("GET = %d, serial %v, %v; want 200 from serial %d\n%s", status, serial, err, want, logs)
		}
	}
	wantSerial(t, 1)

	t.Run("a renewed pair is served without restart", func(t *testing.T) {
		ca.issueFiles(t, dir, "server", 2, "localhost")
		wantSerial(t, 2)
		if !strings.Contains(logs.String(), "reloaded the server certificate") {
			t.Errorf("no reload logged:\n%s", logs)
		}
	})
	t.Run("a broken pair keeps the previous one", func(t *testing.T) {
		writeFileAtomic(t, certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
		wantSerial(t, 2)
		wantSerial(t, 2) // the failure is logged once, not at every handshake
		if n := strings.Count(logs.String(), "reload of the server certificate failed"); n != 1 {
			t.Errorf("reload failure logged %d times, want 1:\n%s", n, logs)
		}
		if !strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("reload failure not logged at ERROR:\n%s", logs)
		}
	})
	t.Run("a key that does not match keeps the previous one", func(t *testing.T) {
		c3, _ := ca.issue(t, 3, "localhost")
		writeFileAtomic(t, certFile, c3) // key_file still holds serial 2's key
		wantSerial(t, 2)
	})
	t.Run("a good pair after a broken one is served", func(t *testing.T) {
		ca.issueFiles(t, dir, "server", 4, "localhost")
		wantSerial(t, 4)
	})
	t.Run("missing files keep the previous pair", func(t *testing.T) {
		if err := os.Remove(keyFile); err != nil {
			t.Fatal(err)
		}
		wantSerial(t, 4)
		ca.issueFiles(t, dir, "server", 5, "localhost")
		wantSerial(t, 5)
	})
}

func TestTLS_ClientAuth(t *testing.T) {
	dir := t.TempDir()
	serverCA := newTestCA(t, dir, "server-ca")
	clientCA := newTestCA(t, dir, "client-ca")
	otherCA := newTestCA(t, dir, "other-ca")
	certFile, keyFile := serverCA.issueFiles(t, dir, "server", 10, "localhost")
	tlsYAML := func(mode string) string {
		return fmt.Sprintf("  listen: 127.0.0.1:0\n  tls:\n    cert_file: %s\n    key_file: %s\n    client_ca_file: %s\n    client_auth: %s",
			certFile, keyFile, clientCA.file, mode)
	}
	good := clientCA.keyPair(t, 20)
	foreign := otherCA.keyPair(t, 30)

	t.Run("require", func(t *testing.T) {
		addr, _ := tlsServe(t, tlsYAML("require"), "")
		url := "https://" + addr + "/healthz"
		if _, _, err := getStatus(httpsClient(serverCA.pool), url); err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Errorf("without a client certificate: err = %v, want certificate required", err)
		}
		if _, _, err := getStatus(httpsClient(serverCA.pool, foreign), url); err == nil || !strings.Contains(err.Error(), "bad certificate") && !strings.Contains(err.Error(), "unknown certificate authority") {
			t.Errorf("with a certificate of another CA: err = %v, want a refused handshake", err)
		}
		if status, _, err := getStatus(httpsClient(serverCA.pool, good), url); err != nil || status != http.StatusOK {
			t.Errorf("with a client certificate: %d, %v; want 200", status, err)
		}
	})
	t.Run("request", func(t *testing.T) {
		addr, _ := tlsServe(t, tlsYAML("request"), "")
		url := "https://" + addr + "/healthz"
		if status, _, err := getStatus(httpsClient(serverCA.pool), url); err != nil || status != http.StatusOK {
			t.Errorf("without a client certificate: %d, %v; want 200", status, err)
		}
		if _, _, err := getStatus(httpsClient(serverCA.pool, foreign), url); err == nil {
			t.Error("a certificate of another CA was accepted")
		}
		if status, _, err := getStatus(httpsClient(serverCA.pool, good), url); err != nil || status != http.StatusOK {
			t.Errorf("with a client certificate: %d, %v; want 200", status, err)
		}
	})
	t.Run("a renewed client CA bundle applies without restart", func(t *testing.T) {
		addr, _ := tlsServe(t, tlsYAML("require"), "")
		url := "https://" + addr + "/healthz"
		writeFileAtomic(t, clientCA.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherCA.cert.Raw}))
		if status, _, err := getStatus(httpsClient(serverCA.pool, foreign), url); err != nil || status != http.StatusOK {
			t.Errorf("with the newly trusted CA: %d, %v; want 200", status, err)
		}
		if _, _, err := getStatus(httpsClient(serverCA.pool, good), url); err == nil {
			t.Error("a certificate of the CA no longer trusted was accepted")
		}
	})
}

// tlsModel is a loopback https model server whose certificate is issued by
// ca for names; clientCAs, when set, requires client certificates. A
// maxVersion of 0 allows TLS 1.3.
func tlsModel(t *testing.T, ca *testCA, clientCAs *x509.CertPool, maxVersion uint16, names ...string) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(echoModel("application/json"))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.keyPair(t, 500, names...)}, MaxVersion: maxVersion}
	if clientCAs != nil {
		srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, clientCAs
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestTLS_Upstream(t *testing.T) {
	dir := t.TempDir()
	modelCA := newTestCA(t, dir, "model-ca")
	gatewayCA := newTestCA(t, dir, "gateway-ca")
	otherCA := newTestCA(t, dir, "other-ca")
	clientCert, clientKey := gatewayCA.issueFiles(t, dir, "gateway-client", 600)

	private := tlsModel(t, modelCA, nil, 0, "model.internal")
	mutual := tlsModel(t, modelCA, gatewayCA.pool, 0, "model.internal")
	// In TLS 1.3 the server checks the client certificate after the
	// client's handshake is over, so a refusal reaches the gateway as the
	// alert or, when the request write loses the race, as a reset
	// connection. TLS 1.2 refuses inside the handshake: always the alert.
	mutual12 := tlsModel(t, modelCA, gatewayCA.pool, tls.VersionTLS12, "model.internal")
	byName := tlsModel(t, modelCA, nil, 0, "model.internal")
	byNameURL := strings.Replace(byName.URL, "127.0.0.1", "localhost", 1) // the certificate has no "localhost"

	variant := func(name, upstream, tlsYAML string) string {
		return fmt.Sprintf("      - name: %s\n        upstream: %s\n        weight: 0\n        tls:\n%s\n", name, upstream, tlsYAML)
	}
	eps := "endpoints:\n  - name: m\n    variants:\n" +
		"      - name: default\n        upstream: " + private.URL + "\n" + // system roots: fails
		variant("private", private.URL, "          ca_file: "+modelCA.file) +
		variant("mutual", mutual.URL, fmt.Sprintf("          ca_file: %s\n          cert_file: %s\n          key_file: %s", modelCA.file, clientCert, clientKey)) +
		variant("mutual-nocert", mutual12.URL, "          ca_file: "+modelCA.file) +
		variant("mutual13-nocert", mutual.URL, "          ca_file: "+modelCA.file) +
		variant("wrong-ca", private.URL, "          ca_file: "+otherCA.file) +
		variant("server-name", byNameURL, "          ca_file: "+modelCA.file+"\n          server_name: model.internal") +
		variant("wrong-name", byNameURL, "          ca_file: "+modelCA.file) +
		variant("insecure", private.URL, "          insecure_skip_verify: true")
	addr, logs := tlsServe(t, "  listen: 127.0.0.1:0", eps)

	invoke := func(variant string) (int, string) {
		t.Helper()
		resp, body := post(t, "http://"+addr+"/endpoints/m/invocations", "application/json", []byte(`{"x":1}`),
			map[string]string{"X-Amzn-SageMaker-Target-Variant": variant})
		return resp.StatusCode, string(body)
	}
	for _, tc := range []struct {
		variant    string
		wantStatus int
		wantBody   []string
	}{
		{"private", 200, []string{`out:{"x":1}`}},
		{"mutual", 200, []string{`out:{"x":1}`}},
		{"server-name", 200, []string{`out:{"x":1}`}},
		{"insecure", 200, []string{`out:{"x":1}`}},
		{"default", 502, []string{"failed TLS certificate verification", "certificate signed by unknown authority"}},
		{"wrong-ca", 502, []string{"variant wrong-ca failed TLS certificate verification", "tls.ca_file", "certificate signed by unknown authority"}},
		{"wrong-name", 502, []string{"failed TLS certificate verification", "localhost"}},
		{"mutual-nocert", 502, []string{"variant mutual-nocert refused the TLS handshake", "tls.cert_file"}},
		{"mutual13-nocert", 502, []string{"variant mutual13-nocert"}},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			status, body := invoke(tc.variant)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", status, tc.wantStatus, body)
			}
			for _, w := range tc.wantBody {
				if !strings.Contains(body, w) {
					t.Errorf("body %s\nwant it to contain %q", body, w)
				}
			}
			if status != 200 {
				var e struct {
					Error struct{ Code string } `json:"error"`
				}
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code == "" {
					t.Errorf("body %s is not a JSON error: %v", body, err)
				}
			}
		})
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "insecure_skip_verify") || !strings.Contains(logs.String(), "variant=insecure") {
		t.Errorf("no warning for insecure_skip_verify:\n%s", logs)
	}
}

func TestTLS_UpstreamFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "not-a-ca.pem")
	if err := os.WriteFile(bad, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tls  config.UpstreamTLS
		want string
	}{
		{config.UpstreamTLS{CAFile: filepath.Join(dir, "missing.pem")}, "endpoints[0].variants[0].tls.ca_file: load CA bundle: open"},
		{config.UpstreamTLS{CAFile: bad}, "endpoints[0].variants[0].tls.ca_file: load CA bundle " + bad + ": no PEM certificate in it"},
		{config.UpstreamTLS{CertFile: bad, KeyFile: bad}, "endpoints[0].variants[0].tls.cert_file: load key pair"},
	} {
		cfg := &config.Config{Endpoints: []config.Endpoint{{Name: "m", Variants: []config.Variant{{Name: "a", Upstream: "https://127.0.0.1:1", TLS: &tc.tls}}}}}
		if _, err := gatewayEndpoints(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("gatewayEndpoints with %+v: err = %v, want %q", tc.tls, err, tc.want)
		}
	}
}

func TestTLS_ServerFileErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	certFile, keyFile := ca.issueFiles(t, dir, "server", 1, "localhost")
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		tls  config.ServerTLS
		want string
	}{
		{config.ServerTLS{CertFile: filepath.Join(dir, "missing.crt"), KeyFile: keyFile}, "server.tls.cert_file: stat"},
		{config.ServerTLS{CertFile: keyFile, KeyFile: certFile}, "server.tls.cert_file: load key pair"},
		{config.ServerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: keyFile, ClientAuth: "require"}, "server.tls.client_ca_file: load CA bundle"},
	} {
		if _, err := serverTLSConfig(tc.tls, log); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serverTLSConfig(%+v): err = %v, want %q", tc.tls, err, tc.want)
		}
	}
}

func TestTLS_ClearTextWarning(t *testing.T) {
	const banner = "WARNING: glassbox is serving in CLEAR TEXT"
	t.Run("0.0.0.0 through serve", func(t *testing.T) {
		_, logs := tlsServe(t, "  listen: 0.0.0.0:0", "")
		out := logs.String()
		if strings.Count(out, banner) != 1 {
			t.Errorf("want the banner once:\n%s", out)
		}
		if !strings.Contains(out, `level=WARN msg="serving in CLEAR TEXT on a non-loopback address`) {
			t.Errorf("want a WARN log line:\n%s", out)
		}
	})
	for _, tc := range []struct {
		listen string
		warn   bool
	}{
		{"127.0.0.1:0", false},
		{"localhost:0", false},
		{"[::1]:0", false},
		{":0", true},
		{"[::]:0", true},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			var out bytes.Buffer
			ln, err := listen(config.Server{Listen: tc.listen}, slog.New(slog.NewTextHandler(&out, nil)), &out)
			if err != nil {
				// A host without IPv6 cannot bind [::1] or [::]; that says
				// nothing about the warning. Every other address must bind.
				if !strings.Contains(tc.listen, "::") {
					t.Fatalf("listen on %s: %v", tc.listen, err)
				}
				t.Skipf("no IPv6 on this host (%s): %v", tc.listen, err)
			}
			ln.Close()
			if got := strings.Contains(out.String(), banner) && strings.Contains(out.String(), "level=WARN"); got != tc.warn {
				t.Errorf("warned = %v, want %v:\n%s", got, tc.warn, out.String())
			}
		})
	}
	t.Run("127.0.0.1 through serve", func(t *testing.T) {
		_, logs := tlsServe(t, "  listen: 127.0.0.1:0", "")
		if strings.Contains(logs.String(), "CLEAR TEXT") {
			t.Errorf("warned on loopback:\n%s", logs)
		}
	})
}

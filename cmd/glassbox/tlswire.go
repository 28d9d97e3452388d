package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/glassbox-dev/glassbox/internal/config"
)

// This file turns the tls sections of the config into *tls.Config values:
// the listener's (server.tls), reloaded when its files change, and each
// variant's upstream client configuration (endpoints[].variants[].tls),
// which the gateway receives ready-made. It also holds the clear-text
// warning of serve.

// listen opens the listener of the gateway and the API: TLS when
// server.tls has a certificate, clear text otherwise — with a loud warning
// (a WARN log line and a banner on stderr) when the bound address is not
// loopback, since tokens and model payloads then cross the network
// readable by anyone on the path.
func listen(s config.Server, log *slog.Logger, stderr io.Writer) (net.Listener, error) {
	var tlsCfg *tls.Config
	if s.TLS.Enabled() {
		var err error
		if tlsCfg, err = serverTLSConfig(s.TLS, log.With("component", "tls")); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.Listen, err)
	}
	if tlsCfg != nil {
		log.Info("serving TLS", "addr", ln.Addr().String(), "client_auth", s.TLS.ClientAuth)
		return tls.NewListener(ln, tlsCfg), nil
	}
	warnClearText(ln.Addr(), log, stderr)
	return ln, nil
}

// warnClearText warns when a clear-text listener is reachable from other
// hosts: any bound address but a loopback one (0.0.0.0 and [::] included).
func warnClearText(addr net.Addr, log *slog.Logger, stderr io.Writer) {
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return
	}
	log.Warn("serving in CLEAR TEXT on a non-loopback address: API tokens and model payloads can be read and changed on the network; set server.tls.cert_file and server.tls.key_file, or listen on 127.0.0.1 behind a TLS-terminating proxy",
		"addr", addr.String())
	fmt.Fprintf(stderr, "\n"+
		"  WARNING: glassbox is serving in CLEAR TEXT on %s, which is not a loopback address.\n"+
		"           API tokens and model payloads cross the network unencrypted.\n"+
		"           Configure server.tls (see docs/tls.md) or listen on 127.0.0.1.\n\n", addr)
}

// serverTLSConfig builds the listener's TLS configuration: TLS 1.2 at
// least, HTTP/2 offered, the key pair (and the client CA bundle, if any)
// re-read at a handshake when their files have changed. The files must
// load now; a later change that does not load is logged and the previous
// material kept.
func serverTLSConfig(t config.ServerTLS, log *slog.Logger) (*tls.Config, error) {
	pair, err := newReloading(log, "server certificate", func() (*tls.Certificate, error) {
		return loadKeyPair(t.CertFile, t.KeyFile)
	}, t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls.cert_file: %w", err)
	}
	base := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return pair.get(), nil
		},
	}
	switch t.ClientAuth {
	case config.ClientAuthRequest:
		base.ClientAuth = tls.VerifyClientCertIfGiven
	case config.ClientAuthRequire:
		base.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if t.ClientCAFile == "" {
		return base, nil
	}
	cas, err := newReloading(log, "client CA bundle", func() (*x509.CertPool, error) {
		return loadCAPool(t.ClientCAFile)
	}, t.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls.client_ca_file: %w", err)
	}
	cc := &clientCAConfig{base: base, cas: cas}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: cc.forClient}, nil
}

// clientCAConfig hands each handshake a configuration with the current
// client CA pool, built anew only when the pool was reloaded.
type clientCAConfig struct {
	base *tls.Config
	cas  *reloading[*x509.CertPool]

	mu   sync.Mutex
	pool *x509.CertPool
	cfg  *tls.Config
}

func (c *clientCAConfig) forClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	pool := c.cas.get()
	c.mu.Lock()
	defer c.mu.Unlock()
	if pool != c.pool {
		cfg := c.base.Clone()
		cfg.ClientCAs = pool
		c.pool, c.cfg = pool, cfg
	}
	return c.cfg, nil
}

// upstreamTLSConfig builds a variant's client TLS configuration, or nil
// for a variant without a tls section. path names the section in errors.
func upstreamTLSConfig(t *config.UpstreamTLS, path string) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, // validated, and the gateway warns
	}
	if t.CAFile != "" {
		pool, err := loadCAPool(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", path, err)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		pair, err := loadKeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file: %w", path, err)
		}
		c.Certificates = []tls.Certificate{*pair}
	}
	return c, nil
}

// loadKeyPair reads a PEM certificate chain and its private key.
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load key pair %s, %s: %w", certFile, keyFile, err)
	}
	return &pair, nil
}

// loadCAPool reads a PEM bundle of CA certificates.
func loadCAPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("load CA bundle %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// reloading holds a value loaded from files and loads it again, at the
// next get, once any of the files has changed (modification time, size or
// identity: an in-place write, a rename over it, a symlink swap as in a
// Kubernetes secret volume). A load that fails is logged once per change
// and the previous value kept, so a half-written renewal never takes the
// listener down; writing the certificate and then the key simply reloads
// twice. There is no goroutine: get costs a stat per file.
type reloading[T any] struct {
	what  string // for log lines: "server certificate"
	files []string
	load  func() (T, error)
	log   *slog.Logger

	mu      sync.Mutex
	cur     T
	seen    []os.FileInfo
	statErr bool // the last stat failed (logged once)
}

// newReloading loads the value for the first time; that load must succeed.
func newReloading[T any](log *slog.Logger, what string, load func() (T, error), files ...string) (*reloading[T], error) {
	r := &reloading[T]{what: what, files: files, load: load, log: log}
	seen, err := statFiles(files)
	if err != nil {
		return nil, err
	}
	if r.cur, err = load(); err != nil {
		return nil, err
	}
	r.seen = seen
	return r, nil
}

// get returns the current value, reloading it first if a file changed.
func (r *reloading[T]) get() T {
	r.mu.Lock()
	defer r.mu.Unlock()
	now, err := statFiles(r.files)
	if err != nil {
		if !r.statErr {
			r.log.Error("cannot check the "+r.what+" files; still using the loaded one", "err", err)
			r.statErr = true
		}
		r.seen = nil // reload once they are back
		return r.cur
	}
	r.statErr = false
	if sameFiles(r.seen, now) {
		return r.cur
	}
	r.seen = now
	v, err := r.load()
	if err != nil {
		r.log.Error("reload of the "+r.what+" failed; still using the previous one", "err", err)
		return r.cur
	}
	r.cur = v
	attrs := []any{"files", r.files}
	if c, ok := any(v).(*tls.Certificate); ok && c.Leaf != nil {
		attrs = append(attrs, "serial", c.Leaf.SerialNumber.String(), "not_after", c.Leaf.NotAfter.Format(time.RFC3339))
	}
	r.log.Info("reloaded the "+r.what, attrs...)
	return r.cur
}

func statFiles(files []string) ([]os.FileInfo, error) {
	infos := make([]os.FileInfo, len(files))
	for i, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		infos[i] = fi
	}
	return infos, nil
}

func sameFiles(a, b []os.FileInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !os.SameFile(a[i], b[i]) || !a[i].ModTime().Equal(b[i].ModTime()) || a[i].Size() != b[i].Size() {
			return false
		}
	}
	return true
}

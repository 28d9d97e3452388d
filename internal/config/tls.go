package config

import (
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Client-certificate modes, the values allowed in ServerTLS.ClientAuth.
const (
	// ClientAuthNone asks clients for no certificate.
	ClientAuthNone = "none"
	// ClientAuthRequest asks for a certificate and verifies it against
	// ServerTLS.ClientCAFile when one is sent; clients without one are
	// served too (the API's token checks still apply).
	ClientAuthRequest = "request"
	// ClientAuthRequire fails the handshake unless the client presents a
	// certificate signed by ServerTLS.ClientCAFile.
	ClientAuthRequire = "require"
)

// ServerTLS configures TLS on the one listener of the gateway and the API
// (server.tls). It is off while CertFile is empty. The certificate and key
// are read at start and again whenever either file changes (checked at
// each TLS handshake), so a renewed certificate needs no restart; a new
// pair that cannot be loaded is logged and the previous one kept. The
// minimum protocol version is TLS 1.2.
type ServerTLS struct {
	// CertFile is a PEM file with the server certificate, followed by any
	// intermediate certificates. Default "" (clear-text HTTP). Requires
	// KeyFile.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of CertFile. Default "". Requires
	// CertFile.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile is a PEM bundle of the certificate authorities whose
	// client certificates are accepted. Required when ClientAuth is
	// "request" or "require", and must be empty with "none". Reloaded on
	// change like the key pair. Default "".
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth is the client-certificate mode: "none", "request" (verify
	// a certificate when one is sent) or "require" (the handshake fails
	// without a certificate signed by ClientCAFile). Default "none"; any
	// other value needs CertFile.
	ClientAuth string `yaml:"client_auth"`
}

// Enabled reports whether the listener serves TLS.
func (t *ServerTLS) Enabled() bool { return t.CertFile != "" }

// UpstreamTLS configures the gateway's TLS connections to one variant's
// https upstream (endpoints[].variants[].tls). Every field is optional; a
// variant without the section trusts the system's roots and sends no
// client certificate. The files are read when the endpoint is applied (at
// start, and when endpoints change through the API); they are not watched.
type UpstreamTLS struct {
	// CAFile is a PEM bundle of the certificate authorities trusted for
	// the upstream's certificate, instead of the system roots (for a
	// private CA). Default "" (system roots).
	CAFile string `yaml:"ca_file"`
	// CertFile is a PEM client certificate presented to the upstream
	// (mutual TLS). Default "". Requires KeyFile.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of CertFile. Default "". Requires
	// CertFile.
	KeyFile string `yaml:"key_file"`
	// ServerName is the host name the upstream's certificate must carry and
	// the SNI sent, when it differs from the upstream URL's host (say, an IP
	// address). A host name or IP address without port. Default "" (the
	// URL's host).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any upstream certificate. Discouraged:
	// anyone on the network path can then impersonate the model server and
	// read its traffic. The gateway logs a warning for each such variant.
	// Must not be combined with CAFile. Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// serverNameRE is a host name for server_name: letters, digits, hyphens,
// underscores and dots.
var serverNameRE = regexp.MustCompile(`^[a-zA-Z0-9_]([a-zA-Z0-9_.-]*[a-zA-Z0-9_])?$`)

func (t *ServerTLS) validate(ps *problems, path string) {
	pairTogether(ps, path, t.CertFile, t.KeyFile)
	oneOf(ps, path+".client_auth", t.ClientAuth, ClientAuthNone, ClientAuthRequest, ClientAuthRequire)
	switch t.ClientAuth {
	case ClientAuthNone:
		if t.ClientCAFile != "" {
			ps.add(path+".client_ca_file", "has no effect with client_auth: %s; set client_auth to %s or %s", ClientAuthNone, ClientAuthRequest, ClientAuthRequire)
		}
	case ClientAuthRequest, ClientAuthRequire:
		switch {
		case !t.Enabled():
			ps.add(path+".client_auth", "%s needs cert_file and key_file: client certificates exist only over TLS", quote(t.ClientAuth))
		case t.ClientCAFile == "":
			ps.add(path+".client_ca_file", "is required with client_auth: %s (the CAs that sign accepted client certificates)", t.ClientAuth)
		}
	}
}

// validate checks a variant's tls section; upstream is the variant's
// upstream URL, checked on its own.
func (t *UpstreamTLS) validate(ps *problems, path, upstream string) {
	if u, err := url.Parse(upstream); err == nil && strings.EqualFold(u.Scheme, "http") {
		ps.add(path, "applies only to https:// upstreams, but upstream is %s", quote(upstream))
	}
	pairTogether(ps, path, t.CertFile, t.KeyFile)
	if t.ServerName != "" && net.ParseIP(t.ServerName) == nil && !serverNameRE.MatchString(t.ServerName) {
		ps.add(path+".server_name", "invalid server name %s: want a host name or IP address, without scheme or port", quote(t.ServerName))
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		ps.add(path+".ca_file", "has no effect with insecure_skip_verify: true; remove one of them (verifying against ca_file is the safe choice)")
	}
}

// pairTogether reports a certificate without its key or a key without its
// certificate.
func pairTogether(ps *problems, path, certFile, keyFile string) {
	switch {
	case certFile != "" && keyFile == "":
		ps.add(path+".key_file", "is required with cert_file")
	case certFile == "" && keyFile != "":
		ps.add(path+".cert_file", "is required with key_file")
	}
}

package gateway

import (
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

// Endpoint is one model endpoint served by the gateway.
type Endpoint struct {
	// Name is the {name} of /endpoints/{name}/...
	Name string
	// Variants share the traffic by weight.
	Variants []Variant
	// Capture is the endpoint's capture policy; nil means no capture.
	Capture *capture.Policy
	// Timeout bounds the wait for the upstream's response headers; past it
	// the client gets 504. Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxBodyBytes caps request bodies (413 above it). Zero means the
	// gateway's default.
	MaxBodyBytes int64
	// Tags are the endpoint's tags, for authorization by tag.
	Tags map[string]string
	// RequireToken makes every request present credentials that the
	// gateway's Authenticator accepts for invoking this endpoint.
	RequireToken bool
}

// Variant is one model server behind an endpoint.
type Variant struct {
	Name string
	// Upstream is the model server's base URL; its path is a prefix.
	Upstream *url.URL
	// Weight is the variant's share of traffic relative to its siblings.
	Weight float64
	// InvocationsPath is appended to Upstream for the invocations route.
	InvocationsPath string
	// TLS configures connections to an https Upstream: trusted roots, a
	// client certificate, the expected server name. Nil means Go's defaults
	// (the system roots, no client certificate). The caller builds it (the
	// gateway reads no files) and must not change it once applied. A variant
	// with TLS gets a connection pool of its own.
	TLS *tls.Config
}

// Defaults for Endpoint fields left at zero.
const (
	DefaultTimeout         = 60 * time.Second
	DefaultMaxBodyBytes    = 6 << 20
	DefaultInvocationsPath = "/invocations"
)

// endpoint is an Endpoint ready to serve: its own pooled transport and
// reverse proxy, and the cumulative weights for variant selection.
type endpoint struct {
	Endpoint
	variants map[string]*Variant
	cum      []float64 // cumulative weights, parallel to Variants
	total    float64
	proxy    *httputil.ReverseProxy
	tr       *http.Transport            // variants without TLS
	trs      map[string]*http.Transport // by variant name, variants with TLS
	series   map[string]*seriesCache    // by variant name; "" for requests refused before a variant was picked
}

func (g *Gateway) newEndpoint(e Endpoint) (*endpoint, error) {
	if e.Name == "" {
		return nil, fmt.Errorf("endpoint without a name")
	}
	if len(e.Variants) == 0 {
		return nil, fmt.Errorf("endpoint %s: no variants", e.Name)
	}
	if e.Timeout <= 0 {
		e.Timeout = DefaultTimeout
	}
	if e.MaxBodyBytes <= 0 {
		e.MaxBodyBytes = g.opts.MaxBodyBytes
	}
	ep := &endpoint{Endpoint: e, variants: map[string]*Variant{}, series: map[string]*seriesCache{"": g.m.cache(e.Name, "")}}
	ep.Variants = append([]Variant(nil), e.Variants...)
	for i := range ep.Variants {
		v := &ep.Variants[i]
		if v.Upstream == nil || v.Upstream.Host == "" {
			return nil, fmt.Errorf("endpoint %s variant %s: upstream URL without host", e.Name, v.Name)
		}
		if _, dup := ep.variants[v.Name]; dup {
			return nil, fmt.Errorf("endpoint %s: duplicate variant %s", e.Name, v.Name)
		}
		if v.InvocationsPath == "" {
			v.InvocationsPath = DefaultInvocationsPath
		}
		if v.Weight > 0 {
			ep.total += v.Weight
		}
		ep.cum = append(ep.cum, ep.total)
		ep.variants[v.Name] = v
		ep.series[v.Name] = g.m.cache(e.Name, v.Name)
	}
	if ep.total <= 0 {
		return nil, fmt.Errorf("endpoint %s: every variant has weight 0", e.Name)
	}
	ep.tr = newTransport(e.Timeout)
	var rt http.RoundTripper = ep.tr
	for i := range ep.Variants {
		v := &ep.Variants[i]
		if v.TLS == nil {
			continue
		}
		if v.TLS.InsecureSkipVerify {
			g.log.Warn("upstream TLS certificate verification is disabled (insecure_skip_verify): anyone on the path can impersonate the model server",
				"endpoint", e.Name, "variant", v.Name, "upstream", v.Upstream.Redacted())
		}
		if ep.trs == nil {
			ep.trs = map[string]*http.Transport{}
			rt = variantTransport{ep}
		}
		tr := newTransport(e.Timeout)
		tr.TLSClientConfig = v.TLS
		ep.trs[v.Name] = tr
	}
	ep.proxy = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      rt,
		BufferPool:     g.copyBufs,
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.proxyError,
	}
	return ep, nil
}

// newTransport returns an upstream transport with a large idle pool: Go's
// default of two idle connections per host costs about 40% of throughput
// under concurrency, because most requests then dial a new connection.
func newTransport(responseTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy: nil, // never send model traffic through an environment proxy
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: responseTimeout,
		ExpectContinueTimeout: time.Second,
		// The gateway passes bodies through untouched; transparent
		// decompression would change what the client and capture see.
		DisableCompression: true,
	}
}

// variantTransport sends each request through the transport of the
// variant it was routed to; endpoints whose variants all lack TLS use the
// shared transport directly.
type variantTransport struct{ ep *endpoint }

func (t variantTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if x, ok := r.Context().Value(ctxKey{}).(*exchange); ok {
		if tr := t.ep.trs[x.v.Name]; tr != nil {
			return tr.RoundTrip(r)
		}
	}
	return t.ep.tr.RoundTrip(r)
}

// closeIdle closes the idle upstream connections of every transport.
func (ep *endpoint) closeIdle() {
	ep.tr.CloseIdleConnections()
	for _, tr := range ep.trs {
		tr.CloseIdleConnections()
	}
}

// pick returns the named variant, or a weighted random one when name is "".
func (ep *endpoint) pick(name string) (*Variant, bool) {
	if name != "" {
		v, ok := ep.variants[name]
		return v, ok
	}
	if len(ep.Variants) == 1 {
		return &ep.Variants[0], true
	}
	x := rand.Float64() * ep.total
	for i, c := range ep.cum {
		if x < c {
			return &ep.Variants[i], true
		}
	}
	for i := len(ep.Variants) - 1; ; i-- { // x hit the rounding edge
		if ep.Variants[i].Weight > 0 {
			return &ep.Variants[i], true
		}
	}
}

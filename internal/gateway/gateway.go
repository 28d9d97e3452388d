package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/capture"
)

// Headers of the SageMaker runtime protocol and Glassbox's own.
const (
	HeaderCustomAttributes = "X-Amzn-Sagemaker-Custom-Attributes"
	HeaderInferenceID      = "X-Amzn-Sagemaker-Inference-Id"
	HeaderTargetVariant    = "X-Amzn-Sagemaker-Target-Variant"
	HeaderInvokedVariant   = "X-Amzn-Invoked-Production-Variant"
	HeaderErrorType        = "X-Amzn-Errortype"
	HeaderEventID          = "X-Glassbox-Event-Id"
)

// Sink receives sampled exchanges. *capture.Spool implements it.
type Sink interface {
	// Sample decides, and counts, whether an exchange is captured.
	Sample(p *capture.Policy) bool
	// Admit is asked before a sampled exchange is forwarded; an error
	// (code EUnavailable) means its record could not be kept and the
	// endpoint's policy is to refuse rather than serve unrecorded.
	Admit(p *capture.Policy) error
	// Submit hands over a sampled exchange. For a synchronous policy it
	// returns once the record is durable, and an error means it is not:
	// the gateway then answers 503 instead of the model's response. For an
	// asynchronous policy an error means the record was dropped (and
	// counted); the response is released regardless.
	Submit(ctx context.Context, ex *capture.Exchange) error
}

// Authenticator checks data-plane credentials of endpoints that require a
// token. Errors carry code EUnauthorized (no or bad credentials) or
// EForbidden (valid, but not allowed to invoke this endpoint).
type Authenticator interface {
	AuthorizeInvoke(r *http.Request, endpoint string, tags map[string]string) error
}

// Options configure a Gateway.
type Options struct {
	// Endpoints served at start; Apply replaces them.
	Endpoints []Endpoint
	// Sink receives captured exchanges; nil disables capture.
	Sink Sink
	// Authenticator checks endpoints with RequireToken; such endpoints
	// answer 401 when it is nil.
	Authenticator Authenticator
	// MaxBodyBytes is the request body limit of endpoints that set none.
	MaxBodyBytes int64
	// Logger receives errors worth a person's attention; nil discards.
	Logger *slog.Logger
	// Registerer receives the gateway's metrics; Gatherer serves /metrics.
	// Both nil: no metrics endpoint.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
}

// Gateway is the data-plane HTTP handler. It is safe for concurrent use.
type Gateway struct {
	opts      Options
	log       *slog.Logger
	m         *metrics
	mux       *http.ServeMux
	endpoints atomic.Pointer[map[string]*endpoint]
	ready     atomic.Bool
	copyBufs  *bufferPool
	bodies    sync.Pool // *bytes.Buffer for request and response copies
	unknown   *seriesCache
}

// New builds a gateway serving opts.Endpoints. It is not ready (readyz
// answers 503) until SetReady(true).
func New(opts Options) (*Gateway, error) {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	g := &Gateway{
		opts:     opts,
		log:      opts.Logger,
		m:        newMetrics(opts.Registerer),
		mux:      http.NewServeMux(),
		copyBufs: &bufferPool{},
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.bodies.New = func() any { return new(bytes.Buffer) }
	g.unknown = g.m.cache("_unknown", "")
	if err := g.Apply(opts.Endpoints); err != nil {
		return nil, err
	}
	g.mux.HandleFunc("POST /endpoints/{name}/invocations", g.serveInvocation)
	g.mux.HandleFunc("/endpoints/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, glassbox.Errorf(glassbox.EInvalid, "method %s not allowed on invocations; use POST", r.Method), http.StatusMethodNotAllowed)
	})
	g.mux.HandleFunc("/endpoints/{name}/proxy/{path...}", g.serveProxy)
	g.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	g.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !g.ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	if opts.Gatherer != nil {
		g.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, glassbox.Errorf(glassbox.ENotFound, "no route for %s %s; model traffic goes to /endpoints/{name}/invocations or /endpoints/{name}/proxy/{path}", r.Method, r.URL.Path), 0)
	})
	return g, nil
}

// Apply replaces the served endpoints. It builds every endpoint first and
// changes nothing when one is invalid. In-flight requests finish on the
// endpoint they started on.
func (g *Gateway) Apply(eps []Endpoint) error {
	next := make(map[string]*endpoint, len(eps))
	for _, e := range eps {
		if _, dup := next[e.Name]; dup {
			return glassbox.Errorf(glassbox.EInvalid, "duplicate endpoint %s", e.Name)
		}
		ep, err := g.newEndpoint(e)
		if err != nil {
			return &glassbox.Error{Code: glassbox.EInvalid, Message: "apply endpoints", Err: err}
		}
		next[e.Name] = ep
	}
	if old := g.endpoints.Swap(&next); old != nil {
		for name, ep := range *old {
			if _, kept := next[name]; !kept {
				ep.closeIdle()
			}
		}
	}
	return nil
}

// SetReady switches the readiness probe.
func (g *Gateway) SetReady(ready bool) { g.ready.Store(ready) }

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// ctxKey carries the *exchange of a request through the reverse proxy.
type ctxKey struct{}

// exchange is the gateway's state for one request.
type exchange struct {
	ep       *endpoint
	v        *Variant
	start    time.Time
	eventID  string
	sampled  bool
	proxied  bool   // pass-through route
	path     string // pass-through path after /proxy
	body     *bytes.Buffer
	bodySize int64
	method   string
	inCT     string
	infID    string
	attrs    string

	status   int
	hasResp  bool
	respCT   string
	respBuf  *bytes.Buffer
	respSize int64
	errMsg   string
}

func (g *Gateway) serveInvocation(w http.ResponseWriter, r *http.Request) {
	g.serve(w, r, false)
}

func (g *Gateway) serveProxy(w http.ResponseWriter, r *http.Request) {
	g.serve(w, r, true)
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, proxied bool) {
	start := time.Now()
	g.m.inFlight.Inc()
	defer g.m.inFlight.Dec()
	name := r.PathValue("name")
	ep := (*g.endpoints.Load())[name]
	if ep == nil {
		g.unknown.observe(http.StatusNotFound, time.Since(start))
		writeError(w, glassbox.Errorf(glassbox.ENotFound, "endpoint %q is not configured", name), 0)
		return
	}
	if ep.RequireToken {
		var err error = glassbox.Errorf(glassbox.EUnauthorized, "endpoint %s requires an API token: send Authorization: Bearer gbx_...", ep.Name)
		if g.opts.Authenticator != nil {
			err = g.opts.Authenticator.AuthorizeInvoke(r, ep.Name, ep.Tags)
		}
		if err != nil {
			status := statusOf(glassbox.ErrorCode(err))
			ep.series[""].observe(status, time.Since(start))
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="glassbox"`)
			}
			writeError(w, err, status)
			return
		}
		// The Glassbox token is for Glassbox; the model never sees it.
		r.Header.Del("Authorization")
	}
	target := r.Header.Get(HeaderTargetVariant)
	v, ok := ep.pick(target)
	if !ok {
		ep.series[""].observe(http.StatusBadRequest, time.Since(start))
		writeError(w, glassbox.Errorf(glassbox.EInvalid, "endpoint %s has no variant %q (from %s)", ep.Name, target, HeaderTargetVariant), 0)
		return
	}
	if id := r.Header.Get(HeaderInferenceID); id != "" && !validInferenceID(id) {
		ep.series[v.Name].observe(http.StatusBadRequest, time.Since(start))
		writeError(w, glassbox.Errorf(glassbox.EInvalid, "%s must be 1-64 printable ASCII characters not starting with whitespace", HeaderInferenceID), 0)
		return
	}
	x := &exchange{
		ep: ep, v: v, start: start, eventID: uuid.NewString(), proxied: proxied,
		method: r.Method,
		inCT:   r.Header.Get("Content-Type"),
		infID:  r.Header.Get(HeaderInferenceID),
		attrs:  r.Header.Get(HeaderCustomAttributes),
	}
	if proxied {
		x.path = r.PathValue("path")
	}
	if err := g.readBody(x, w, r); err != nil {
		status := http.StatusBadRequest
		if glassbox.ErrorCode(err) == glassbox.ETooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		ep.series[v.Name].observe(status, time.Since(start))
		w.Header().Set(HeaderEventID, x.eventID)
		writeError(w, err, status)
		g.release(x)
		return
	}
	x.sampled = g.opts.Sink != nil && ep.Capture != nil && g.opts.Sink.Sample(ep.Capture)
	if x.sampled {
		if err := g.opts.Sink.Admit(ep.Capture); err != nil {
			// Never forward an exchange that could not be recorded.
			ep.series[v.Name].observe(http.StatusServiceUnavailable, time.Since(start))
			w.Header().Set(HeaderEventID, x.eventID)
			writeError(w, err, http.StatusServiceUnavailable)
			g.release(x)
			return
		}
	}
	if x.sampled && ep.Capture.Sync {
		g.serveSync(w, r, x)
		return
	}

	defer func() {
		p := recover()
		if p != nil {
			x.errMsg = "response aborted: upstream or client closed the connection mid-body"
			if x.status == 0 {
				x.status = http.StatusBadGateway
			}
		}
		_ = g.finish(r.Context(), x) // async: the sink counts what it drops
		if p != nil {
			if p != http.ErrAbortHandler {
				g.log.Error("panic in gateway handler", "endpoint", ep.Name, "panic", p)
			}
			panic(http.ErrAbortHandler) // let net/http drop the connection quietly
		}
	}()
	ep.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, x)))
}

// serveSync serves an exchange of a synchronous endpoint: the model's
// response is held in memory until its record is fsynced in the spool, and
// replaced by a 503 if that fails, so a 2xx with an event id always means
// the record will reach the blob store.
func (g *Gateway) serveSync(w http.ResponseWriter, r *http.Request, x *exchange) {
	held := &heldResponse{header: http.Header{}, body: g.bodies.Get().(*bytes.Buffer)}
	held.body.Reset()
	defer g.bodies.Put(held.body)
	aborted := false
	func() {
		defer func() {
			if p := recover(); p != nil {
				if p != http.ErrAbortHandler {
					g.log.Error("panic in gateway handler", "endpoint", x.ep.Name, "panic", p)
				}
				aborted = true
				x.errMsg = "response aborted: the upstream closed the connection mid-body"
				x.status = http.StatusBadGateway
			}
		}()
		x.ep.proxy.ServeHTTP(held, r.WithContext(context.WithValue(r.Context(), ctxKey{}, x)))
	}()
	if aborted {
		// Nothing was sent yet, so the client gets a clean error.
		held.header = http.Header{}
		held.status = 0
		held.body.Reset()
	}
	if err := g.finish(r.Context(), x); err != nil {
		w.Header().Set(HeaderEventID, x.eventID)
		w.Header().Set(HeaderInvokedVariant, x.v.Name)
		writeError(w, &glassbox.Error{Code: glassbox.EUnavailable, Err: err,
			Message: "the model answered, but its record could not be made durable, so the answer is withheld: " + glassbox.ErrorMessage(err)}, http.StatusServiceUnavailable)
		return
	}
	if aborted {
		w.Header().Set(HeaderEventID, x.eventID)
		w.Header().Set(HeaderInvokedVariant, x.v.Name)
		writeError(w, glassbox.Errorf(glassbox.EBadGateway, "upstream of endpoint %s variant %s closed the connection mid-response", x.ep.Name, x.v.Name), http.StatusBadGateway)
		return
	}
	dst := w.Header()
	for k, vs := range held.header {
		dst[k] = vs
	}
	status := held.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(held.body.Bytes())
}

// heldResponse is an http.ResponseWriter that keeps the response in memory.
type heldResponse struct {
	header http.Header
	status int
	body   *bytes.Buffer
}

func (h *heldResponse) Header() http.Header { return h.header }

func (h *heldResponse) WriteHeader(status int) {
	if h.status == 0 && status >= 200 {
		h.status = status
	}
}

func (h *heldResponse) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(p)
}

// Flush is a no-op: a held response is released as a whole.
func (h *heldResponse) Flush() {}

// readBody reads the whole request body into a pooled buffer, bounded by
// the endpoint's limit, and points r.Body at the copy.
func (g *Gateway) readBody(x *exchange, w http.ResponseWriter, r *http.Request) error {
	limit := x.ep.MaxBodyBytes
	if r.ContentLength > limit {
		return glassbox.Errorf(glassbox.ETooLarge, "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)
	}
	buf := g.bodies.Get().(*bytes.Buffer)
	buf.Reset()
	x.body = buf
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return glassbox.Errorf(glassbox.ETooLarge, "request body exceeds the limit of %d bytes", limit)
		}
		return glassbox.Errorf(glassbox.EInvalid, "read request body: %v", err)
	}
	x.bodySize = int64(buf.Len())
	r.Body = io.NopCloser(bytes.NewReader(buf.Bytes()))
	r.ContentLength = x.bodySize
	return nil
}

// rewrite points the outgoing request at the variant's upstream.
func rewrite(pr *httputil.ProxyRequest) {
	x := pr.Out.Context().Value(ctxKey{}).(*exchange)
	u := x.v.Upstream
	out := pr.Out
	out.URL.Scheme, out.URL.Host, out.Host = u.Scheme, u.Host, ""
	if x.proxied {
		out.URL.Path = joinPath(u.Path, "/"+x.path)
		out.URL.RawPath = ""
		out.URL.RawQuery = pr.In.URL.RawQuery
		return
	}
	out.URL.Path = joinPath(u.Path, x.v.InvocationsPath)
	out.URL.RawPath, out.URL.RawQuery = "", ""
	// SageMaker semantics: the model sees the body and these headers only.
	// Credentials (a SigV4 Authorization header) never reach the model.
	h := make(http.Header, 6)
	for _, k := range []string{"Content-Type", "Accept", "Content-Encoding", HeaderCustomAttributes, HeaderInferenceID} {
		if vs := out.Header[k]; len(vs) > 0 {
			h[k] = vs
		}
	}
	h[HeaderEventID] = []string{x.eventID}
	out.Header = h
}

func joinPath(base, p string) string {
	if base == "" || base == "/" {
		return p
	}
	return strings.TrimSuffix(base, "/") + p
}

// modifyResponse adds Glassbox's headers and, for sampled exchanges, tees
// the response body into a bounded copy as it streams to the client.
func (g *Gateway) modifyResponse(resp *http.Response) error {
	x := resp.Request.Context().Value(ctxKey{}).(*exchange)
	x.status = resp.StatusCode
	x.hasResp = true
	resp.Header.Set(HeaderInvokedVariant, x.v.Name)
	resp.Header.Set(HeaderEventID, x.eventID)
	if x.sampled {
		x.respCT = resp.Header.Get("Content-Type")
		x.respBuf = g.bodies.Get().(*bytes.Buffer)
		x.respBuf.Reset()
		resp.Body = &teeBody{rc: resp.Body, x: x, limit: x.ep.Capture.PayloadLimit()}
	}
	return nil
}

// teeBody copies what the client is sent into x.respBuf, up to limit bytes,
// and counts the full size.
type teeBody struct {
	rc    io.ReadCloser
	x     *exchange
	limit int
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 {
		t.x.respSize += int64(n)
		if room := t.limit - t.x.respBuf.Len(); room > 0 {
			t.x.respBuf.Write(p[:min(n, room)])
		}
	}
	return n, err
}

func (t *teeBody) Close() error { return t.rc.Close() }

// proxyError answers when the upstream could not be reached or did not
// answer in time.
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	x := r.Context().Value(ctxKey{}).(*exchange)
	status, code := http.StatusBadGateway, glassbox.EBadGateway
	msg := "upstream of endpoint " + x.ep.Name + " variant " + x.v.Name + " is unreachable"
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		status, msg = 499, "client closed the request"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		status, code = http.StatusGatewayTimeout, glassbox.ETimeout
		msg = "upstream of endpoint " + x.ep.Name + " variant " + x.v.Name + " did not answer within " + x.ep.Timeout.String()
	default:
		if tlsMsg := tlsProblem(err); tlsMsg != "" {
			msg = "upstream of endpoint " + x.ep.Name + " variant " + x.v.Name + " " + tlsMsg
		}
	}
	x.status, x.hasResp, x.errMsg = status, false, msg+": "+err.Error()
	w.Header().Set(HeaderInvokedVariant, x.v.Name)
	w.Header().Set(HeaderEventID, x.eventID)
	writeError(w, &glassbox.Error{Code: code, Message: msg}, status)
}

// tlsProblem describes a failed TLS connection to an upstream for the
// client's error message (the gateway's own configuration is at fault, and
// the client cannot see it otherwise), or returns "" for other errors.
func tlsProblem(err error) string {
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	var oe *net.OpError
	switch {
	case errors.As(err, &cv):
		return "failed TLS certificate verification (check the variant's tls.ca_file and tls.server_name): " + cv.Err.Error()
	case errors.As(err, &rh):
		return "did not answer in TLS (is the upstream URL meant to be http://?)"
	case errors.As(err, &oe) && oe.Op == "remote error":
		return "refused the TLS handshake (check the variant's tls.cert_file and tls.key_file): " + oe.Err.Error()
	}
	return ""
}

// finish records metrics and hands a sampled exchange to the sink. Its
// error is the sink's: for a synchronous policy, the record is not durable.
func (g *Gateway) finish(ctx context.Context, x *exchange) error {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	if !x.sampled {
		x.ep.series[x.v.Name].observe(x.status, time.Since(x.start))
		g.release(x)
		return nil
	}
	ex := &capture.Exchange{
		Policy:           x.ep.Capture,
		EventID:          x.eventID,
		InferenceID:      x.infID,
		CustomAttributes: x.attrs,
		Variant:          x.v.Name,
		Time:             x.start,
		Latency:          time.Since(x.start),
		Status:           x.status,
		InputContentType: x.inCT,
		Input:            x.body.Bytes(),
		InputSize:        x.bodySize,
		HasOutput:        x.hasResp,
		Error:            x.errMsg,
	}
	if x.proxied {
		ex.Method, ex.Path = x.method, "/"+x.path
	}
	if x.respBuf != nil {
		ex.OutputContentType, ex.Output, ex.OutputSize = x.respCT, x.respBuf.Bytes(), x.respSize
	}
	ex.Release = func() { g.release(x) }
	err := g.opts.Sink.Submit(context.WithoutCancel(ctx), ex) // async drops are counted by the sink
	status := x.status
	if err != nil && x.ep.Capture.Sync {
		status = http.StatusServiceUnavailable
	}
	x.ep.series[x.v.Name].observe(status, time.Since(x.start))
	if x.ep.Capture.Sync {
		return err
	}
	return nil
}

func (g *Gateway) release(x *exchange) {
	if x.body != nil {
		g.bodies.Put(x.body)
		x.body = nil
	}
	if x.respBuf != nil {
		g.bodies.Put(x.respBuf)
		x.respBuf = nil
	}
}

// validInferenceID applies SageMaker's rule: 1–64 printable ASCII
// characters, not starting with whitespace.
func validInferenceID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == ' ' || s[0] == '\t' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// bufferPool recycles the reverse proxy's 32 KiB copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v := b.p.Get(); v != nil {
		return *v.(*[]byte)
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// errorBody is the JSON shape of every error the gateway itself answers.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// statusOf maps error codes to HTTP statuses (glassbox.HTTPStatus).
func statusOf(code string) int { return glassbox.HTTPStatus(code) }

// awsErrorType names the error for AWS SDK clients, which read it from the
// X-Amzn-ErrorType header.
func awsErrorType(status int) string {
	switch {
	case status == http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		return "ModelError"
	case status >= 500:
		return "InternalFailure"
	}
	return "ValidationError"
}

// writeError answers with a JSON error; status 0 derives it from the code.
func writeError(w http.ResponseWriter, err error, status int) {
	code := glassbox.ErrorCode(err)
	if status == 0 {
		status = statusOf(code)
	}
	var b errorBody
	b.Error.Code, b.Error.Message = code, glassbox.ErrorMessage(err)
	w.Header().Set(HeaderErrorType, awsErrorType(status))
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

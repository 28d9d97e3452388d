// Command gwbench is a self-contained loopback load benchmark of the Glassbox
// gateway. In one run it measures requests/s and latency p50/p99 of these
// paths to the same upstream model server:
//
//	direct            the model server itself
//	proxy             a tuned httputil.ReverseProxy without capture (baseline)
//	glassbox-off      gateway.New with capture disabled on the endpoint
//	glassbox-capture  gateway.New with 100% asynchronous capture into a
//	                  capture.Spool writing to a file bucket in a temp dir
//	glassbox-protect  the same with capture.encrypt (objects and spool
//	                  segments encrypted with a local keyring in the temp
//	                  dir) and capture.redact rules (email: hash,
//	                  payment_card: mask, us_ssn: mask); its own spool,
//	                  bucket and keyring
//	glassbox-sync     glassbox-capture with a synchronous policy (Sync:
//	                  true): each response is held until its record is
//	                  fsynced in the spool (group commit); its own spool
//	                  and bucket
//	glassbox-indexed  glassbox-capture with the capture index in SQLite
//
// The servers run in this process, each on its own 127.0.0.1 listener. The
// load generator runs in a child process (this binary re-executed with the
// hidden -worker flag) so that it does not share a Go scheduler and heap
// with the servers; it is closed-loop: N workers, each with its own
// keep-alive connection, send the next request as soon as the previous one
// is answered. Every cell (path × concurrency) gets a warm-up, then a timed
// measurement; paths are interleaved within each repetition and the table
// reports the median over repetitions.
//
// Usage:
//
//	go run ./tools/gwbench                 # 5s per cell, 3 reps, c=1 and c=64
//	go run ./tools/gwbench -quick          # CI smoke: 1s per cell, 1 rep
//	go run ./tools/gwbench -out bench.md   # also write the markdown report
//	go run ./tools/gwbench -paths glassbox-capture -conns 64 -cpuprofile cpu.out
//
// It exits 0 when the run completed, whatever the numbers (targets are
// reported as PASS/MISS), and non-zero on any transport error, non-200
// response, wrong response body, or capture-accounting mismatch.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/gateway"
	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
	"github.com/glassbox-dev/glassbox/internal/redact"
	"github.com/glassbox-dev/glassbox/internal/store"
	"github.com/glassbox-dev/glassbox/tools/internal/benchfmt"
	"github.com/glassbox-dev/glassbox/tools/internal/cpustat"
)

// Path names, in the order they run within a repetition.
const (
	pathDirect  = "direct"
	pathProxy   = "proxy"
	pathOff     = "glassbox-off"
	pathCapture = "glassbox-capture"
	pathProtect = "glassbox-protect"
	pathSync    = "glassbox-sync"
	pathIndexed = "glassbox-indexed"
)

// glassbox-protect runs right after glassbox-capture, so that the pair it
// is compared with ran seconds apart.
var allPaths = []string{pathDirect, pathProxy, pathOff, pathCapture, pathProtect, pathSync, pathIndexed}

// capturePaths are the paths whose gateway captures every exchange; each
// has its own spool and bucket, and its records are reconciled after Close.
var capturePaths = []string{pathCapture, pathProtect, pathSync, pathIndexed}

// Targets the report checks (see docs: perf-reliability.md §6.1 and §7).
const (
	targetThroughputRatio = 0.9
	targetAddedP50        = 100 * time.Microsecond
	// targetAddedP99 is the §7 item 1 anchor (≤ 1 ms added p99). It is
	// stated there for low load; applied at c=64 (saturation) it is strict.
	targetAddedP99 = time.Millisecond
	// targetSyncRatio: synchronous capture keeps at least half the
	// throughput of asynchronous capture at c=64 (group commit).
	targetSyncRatio = 0.5
	// targetProtectRatio: capture with encryption + redaction keeps at
	// least 0.85x the throughput of capture without them (issue 6).
	targetProtectRatio = 0.85
)

const (
	endpointName = "bench"
	respBodySize = 1024
	reqBodySize  = 200
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-worker" || os.Args[1] == "--worker") {
		os.Exit(workerMain(os.Args[2:]))
	}
	uuid.EnableRandPool() // as cmd/glassbox does
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gwbench:", err)
		os.Exit(1)
	}
}

type config struct {
	duration, warmup time.Duration
	reps             int
	conns            []int
	paths            []string
	out              string
	cpuprofile       string
	inproc           bool
	maxObjectBytes   int64
}

func parseFlags() (*config, error) {
	var (
		cfg          config
		conns, paths string
		quick        bool
	)
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured duration of each cell (path × conns × rep)")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "warm-up before each cell's measurement, same concurrency")
	flag.IntVar(&cfg.reps, "reps", 3, "repetitions; each cell reports the median over reps")
	flag.StringVar(&conns, "conns", "1,64", "comma-separated concurrency levels (closed-loop workers)")
	flag.StringVar(&paths, "paths", strings.Join(allPaths, ","), "comma-separated paths to measure")
	flag.StringVar(&cfg.out, "out", "", "also write the markdown report to this file")
	flag.BoolVar(&quick, "quick", false, "CI smoke: -duration 1s -reps 1")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the server process (all servers, measurement phases only) to this file")
	flag.Int64Var(&cfg.maxObjectBytes, "max-object-bytes", 0, "capture policy MaxObjectBytes of glassbox-capture (0: Glassbox's default)")
	flag.BoolVar(&cfg.inproc, "inproc", false, "run the load generator in this process instead of a child process")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if quick {
		cfg.duration, cfg.reps = time.Second, 1
	}
	if cfg.duration <= 0 || cfg.reps <= 0 || cfg.warmup < 0 {
		return nil, errors.New("-duration and -reps must be positive, -warmup not negative")
	}
	for _, s := range strings.Split(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-conns: %q is not a positive integer", s)
		}
		cfg.conns = append(cfg.conns, n)
	}
	for _, s := range strings.Split(paths, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(allPaths, s) {
			return nil, fmt.Errorf("-paths: unknown path %q (want %s)", s, strings.Join(allPaths, ", "))
		}
		if !slices.Contains(cfg.paths, s) {
			cfg.paths = append(cfg.paths, s)
		}
	}
	// Keep the canonical interleaving order whatever order was given.
	slices.SortFunc(cfg.paths, func(a, b string) int { return slices.Index(allPaths, a) - slices.Index(allPaths, b) })
	return &cfg, nil
}

// cell is one path × concurrency; it collects one sample per repetition.
type cell struct {
	path  string
	conns int
	runs  []loadResult
	cpu   []float64 // server-process CPU µs per request, per rep
	total []float64 // server + load-generator CPU µs per request, per rep
	spool []spoolSample
}

// spoolSample is what a capture path's spool did during one cell (warm-up
// included): fsyncs and their total duration, and the requests served.
type spoolSample struct {
	fsyncs, fsyncSeconds float64
	requests             int64
}

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	exe := ""
	if !cfg.inproc {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("find own executable for the load-generator child (use -inproc): %w", err)
		}
	}

	env, err := startServers(cfg.maxObjectBytes)
	if err != nil {
		return err
	}
	defer env.cleanup()

	cells := map[string]*cell{}
	key := func(p string, c int) string { return p + "/" + strconv.Itoa(c) }
	for _, p := range cfg.paths {
		for _, c := range cfg.conns {
			cells[key(p, c)] = &cell{path: p, conns: c}
		}
	}
	total := cfg.reps * len(cfg.conns) * len(cfg.paths)
	fmt.Fprintf(os.Stderr, "gwbench: %d cells × (%v warm-up + %v) ≈ %v; load generator %s\n",
		total, cfg.warmup, cfg.duration, (time.Duration(total) * (cfg.warmup + cfg.duration + 100*time.Millisecond)).Round(time.Second),
		map[bool]string{true: "in-process", false: "in a child process"}[cfg.inproc])

	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	stopProfile := func() {
		if cfg.cpuprofile != "" {
			pprof.StopCPUProfile()
			cfg.cpuprofile = ""
		}
	}
	defer stopProfile()

	// Every response each capturing gateway gave: the start-up probe,
	// warm-ups and measurements.
	captureResponses := map[string]int64{}
	for _, p := range capturePaths {
		captureResponses[p] = env.probes[p]
	}
	var otherCPU []float64 // per cell, in cores
	n := 0
	for rep := 1; rep <= cfg.reps; rep++ {
		for _, c := range cfg.conns {
			for _, p := range cfg.paths {
				n++
				runtime.GC() // start each cell without the previous cell's garbage
				fs0, fsErr0 := env.fsyncs(p)
				cpu0, busy0, t0 := cpustat.Process(), cpustat.MachineBusy(), time.Now()
				res, err := runLoadCell(exe, env.urls[p], c, cfg.warmup, cfg.duration)
				cpu := cpustat.Process() - cpu0
				fs1, fsErr1 := env.fsyncs(p)
				// CPU used by processes other than this one and its
				// load generator: a noise indicator (jiffy resolution).
				other := math.NaN()
				if busy0 >= 0 && !cfg.inproc {
					other = float64(cpustat.MachineBusy()-busy0-cpu-res.ChildCPU) / float64(time.Since(t0))
					otherCPU = append(otherCPU, other)
				}
				if _, ok := captureResponses[p]; ok {
					captureResponses[p] += res.Warmup + res.Requests + res.Non200
				}
				if err != nil {
					return fmt.Errorf("%s c=%d rep %d: %w", p, c, rep, err)
				}
				if err := errors.Join(fsErr0, fsErr1); err != nil {
					return err
				}
				if res.Errors > 0 || res.Non200 > 0 || res.BadBody > 0 {
					return fmt.Errorf("%s c=%d rep %d: %d transport errors, %d non-200, %d wrong bodies; first: %s",
						p, c, rep, res.Errors, res.Non200, res.BadBody, res.FirstErr)
				}
				cl := cells[key(p, c)]
				cl.runs = append(cl.runs, res)
				cpuPerReq := math.NaN()
				if !cfg.inproc {
					cpuPerReq = float64(cpu.Microseconds()) / float64(res.Warmup+res.Requests)
				}
				cl.cpu = append(cl.cpu, cpuPerReq)
				cl.total = append(cl.total, cpuPerReq+float64(res.ChildCPU.Microseconds())/float64(res.Warmup+res.Requests))
				fsyncNote := ""
				if fs0 != nil {
					sp := spoolSample{fsyncs: fs1.fsyncs - fs0.fsyncs, fsyncSeconds: fs1.fsyncSeconds - fs0.fsyncSeconds,
						requests: res.Warmup + res.Requests}
					cl.spool = append(cl.spool, sp)
					fsyncNote = fmt.Sprintf("  fsyncs/req %.3f", sp.fsyncs/float64(max(sp.requests, 1)))
				}
				fmt.Fprintf(os.Stderr, "[%d/%d] rep %d %-16s c=%-3d %8.0f req/s  p50 %-8s p99 %-9s cpu %s µs/req  other procs %s%% of a core%s\n",
					n, total, rep, p, c, res.rate(), fmtDur(res.P50), fmtDur(res.P99), benchfmt.Float(cpuPerReq, 1), benchfmt.Float(100*other, 0), fsyncNote)
			}
		}
	}
	stopProfile()

	acct, err := env.finishCapture(captureResponses)
	if err != nil {
		return err
	}

	var ordered []*cell
	for _, p := range cfg.paths {
		for _, c := range cfg.conns {
			ordered = append(ordered, cells[key(p, c)])
		}
	}
	report := renderReport(cfg, ordered, cells, key, acct, otherCPU)
	fmt.Print(report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "gwbench: report written to", cfg.out)
	}
	return acct.err()
}

// ---------------------------------------------------------------------------
// Servers

type env struct {
	urls    map[string]string
	servers []*http.Server
	dir     string

	gws    map[string]*gwEnv // glassbox-off and the capture paths
	dbs    []*store.DB       // metadata stores of indexed paths
	closed bool
	probes map[string]int64 // requests sent by the start-up probe
}

// gwEnv is one gateway with its own spool, bucket and metrics registry.
type gwEnv struct {
	srv    *http.Server
	pipe   *capture.Spool
	reg    *prometheus.Registry
	bucket objstore.Bucket // what the spool writes to (decrypts on Get)
	raw    *file.Bucket    // the stored bytes

	// What a captured line must hold: the payloads as the record stores
	// them (redacted on glassbox-protect) and the rules that fired.
	wantIn, wantOut []byte
	wantFired       []string
}

// gwOpts are a gateway's capture settings.
type gwOpts struct {
	enabled, sync, index bool
	protect              bool // capture.encrypt + capture.redact
}

// protectRules are glassbox-protect's capture.redact rules.
var protectRules = []redact.Rule{
	{Detector: redact.Email, Action: redact.Hash},
	{Detector: redact.PaymentCard, Action: redact.Mask},
	{Detector: redact.USSSN, Action: redact.Mask},
}

// protect wires encryption at rest and redaction as cmd/glassbox serve does
// for an endpoint with capture.encrypt and capture.redact: a local keyring
// (created in keyDir) encrypts every object put to b, and the hash action's
// key is the keyring's "redact-hmac" secret. The keyring is returned for
// the spool (SpoolOptions.Keys), whose segments are encrypted too.
func protect(keyDir string, b objstore.Bucket) (objstore.Bucket, capture.Redactor, keys.Provider, error) {
	kr, err := keys.OpenKeyring(keyDir+"/keyring.json", keys.KeyringOptions{Create: true})
	if err != nil {
		return nil, nil, nil, err
	}
	hmacKey, err := kr.Secret(context.Background(), "redact-hmac")
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := redact.New(protectRules, hmacKey)
	if err != nil {
		return nil, nil, nil, err
	}
	enc := capture.NewEncryptingBucket(b, kr, func(string) bool { return true })
	return enc, payloadRedactor{r}, kr, nil
}

// payloadRedactor adapts redact.Redactor to capture.Redactor as
// cmd/glassbox does (redactwire.go): CSV and JSON payloads are read as
// such, anything else as text.
type payloadRedactor struct{ r *redact.Redactor }

func (p payloadRedactor) Redact(data []byte, encoding string) ([]byte, []string, error) {
	f := redact.Text
	switch encoding {
	case capture.EncodingCSV:
		f = redact.CSV
	case capture.EncodingJSON:
		f = redact.JSON
	}
	return p.r.Apply(data, f)
}

// redactedBodies is what r makes of the benchmark's request and response
// under pol, checked: the e-mail is gone from the input, the output (no
// personal data) is unchanged.
func redactedBodies(r capture.Redactor, pol *capture.Policy) (in []byte, fired []string, err error) {
	in, fired, err = r.Redact(reqBody, pol.ContentTypes.Encoding("application/json", reqBody))
	if err != nil {
		return nil, nil, err
	}
	out, outFired, err := r.Redact(respBody, pol.ContentTypes.Encoding("application/json", respBody))
	if err != nil {
		return nil, nil, err
	}
	if bytes.Contains(in, []byte(reqEmail)) || len(fired) == 0 || !bytes.Equal(out, respBody) || len(outFired) != 0 {
		return nil, nil, fmt.Errorf("redaction self-check: input %q (rules %q), output changed %v", in, fired, !bytes.Equal(out, respBody))
	}
	return in, fired, nil
}

// fsyncs reads the spool fsync counter and total fsync time of path's
// gateway; nil for a path without a capturing spool.
func (e *env) fsyncs(path string) (*spoolSample, error) {
	g := e.gws[path]
	if g == nil || !slices.Contains(capturePaths, path) {
		return nil, nil
	}
	n, _, err := counter(g.reg, "glassbox_spool_fsyncs_total", "")
	if err != nil {
		return nil, err
	}
	sec, err := histogramSum(g.reg, "glassbox_spool_fsync_duration_seconds")
	if err != nil {
		return nil, err
	}
	return &spoolSample{fsyncs: n, fsyncSeconds: sec}, nil
}

// respBody is the model's fixed 1 KiB JSON answer.
var respBody = func() []byte {
	prefix := `{"model":"m1","version":"2024-01-01","predictions":[0.12,0.88],"pad":"`
	suffix := `"}`
	b := []byte(prefix + strings.Repeat("x", respBodySize-len(prefix)-len(suffix)) + suffix)
	if len(b) != respBodySize {
		panic("response body size")
	}
	return b
}()

// reqEmail is the personal datum in every request: glassbox-protect's
// email rule hashes it, so no stored object may hold it in clear.
const reqEmail = "jane.doe@example.com"

// reqBody is the client's 200-byte JSON request: features, an e-mail
// address, an id.
var reqBody = func() []byte {
	prefix := `{"instances":[{"features":[0.25,1.5,-3.75,42,0.001,7.5,12.125,-0.5],"email":"` + reqEmail + `","id":"`
	suffix := `"}]}`
	b := []byte(prefix + strings.Repeat("a", reqBodySize-len(prefix)-len(suffix)) + suffix)
	if len(b) != reqBodySize {
		panic("request body size")
	}
	return b
}()

var (
	hdrJSON   = []string{"application/json"}
	hdrLength = []string{strconv.Itoa(respBodySize)}
)

func upstreamHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Content-Length"] = hdrLength
	_, _ = w.Write(respBody)
}

// bufPool is the baseline proxy's httputil.BufferPool of 32 KiB buffers.
type bufPool struct{ p sync.Pool }

func (b *bufPool) Get() []byte {
	if v := b.p.Get(); v != nil {
		return *v.(*[]byte)
	}
	return make([]byte, 32<<10)
}

func (b *bufPool) Put(x []byte) { b.p.Put(&x) }

func newBaselineProxy(up *url.URL) http.Handler {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConns = 1024
	tr.MaxIdleConnsPerHost = 1024
	return &httputil.ReverseProxy{
		Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(up) },
		Transport:  tr,
		BufferPool: &bufPool{},
	}
}

func startServers(maxObjectBytes int64) (_ *env, err error) {
	e := &env{urls: map[string]string{}, probes: map[string]int64{}, gws: map[string]*gwEnv{}}
	defer func() {
		if err != nil {
			e.cleanup()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "gwbench-"); err != nil {
		return nil, err
	}
	listen := func(name, path string, h http.Handler) (*http.Server, *url.URL, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("listen for %s: %w", name, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		e.servers = append(e.servers, srv)
		base := &url.URL{Scheme: "http", Host: ln.Addr().String()}
		e.urls[name] = base.String() + path
		return srv, base, nil
	}

	_, up, err := listen(pathDirect, "/invocations", http.HandlerFunc(upstreamHandler))
	if err != nil {
		return nil, err
	}
	if _, _, err = listen(pathProxy, "/invocations", newBaselineProxy(up)); err != nil {
		return nil, err
	}

	// The gateways are wired as cmd/glassbox serve wires them: a pipeline
	// as Sink, gateway and capture metrics on one registry per gateway.
	newGateway := func(name string, o gwOpts) error {
		fb, err := file.New(e.dir + "/" + name)
		if err != nil {
			return err
		}
		var (
			bucket   objstore.Bucket = fb
			redactor capture.Redactor
			kp       keys.Provider
		)
		if o.protect {
			if bucket, redactor, kp, err = protect(e.dir+"/keys-"+name, fb); err != nil {
				return err
			}
		}
		reg := prometheus.NewRegistry()
		// With encryption on, the spool's segments are encrypted too.
		sopts := capture.SpoolOptions{Dir: e.dir + "/spool-" + name, Metrics: capture.NewMetrics(reg), Keys: kp}
		if o.index {
			// The capture index in a SQLite metadata store, as serve uses
			// by default.
			db, err := store.Open(context.Background(), "sqlite://"+e.dir+"/"+name+".db", store.Options{})
			if err != nil {
				return err
			}
			e.dbs = append(e.dbs, db)
			sopts.Index = db
		}
		pipe, err := capture.OpenSpool(bucket, sopts)
		if err != nil {
			return err
		}
		pol := &capture.Policy{
			Endpoint:        endpointName,
			Enabled:         o.enabled,
			SamplingPercent: 100,
			Input:           true,
			Output:          true,
			ContentTypes:    capture.NewContentTypes([]string{"text/csv"}, []string{"application/json"}),
			MaxObjectBytes:  maxObjectBytes,
			Sync:            o.sync,
			Redactor:        redactor,
		}
		gw, err := gateway.New(gateway.Options{
			Endpoints: []gateway.Endpoint{{
				Name:     endpointName,
				Variants: []gateway.Variant{{Name: "v1", Upstream: up, Weight: 1}},
				Capture:  pol,
			}},
			Sink:       pipe,
			Registerer: reg,
			Gatherer:   reg,
		})
		if err != nil {
			_ = pipe.Close(context.Background())
			return err
		}
		gw.SetReady(true)
		srv, _, err := listen(name, "/endpoints/"+endpointName+"/invocations", gw)
		if err != nil {
			_ = pipe.Close(context.Background())
			return err
		}
		g := &gwEnv{srv: srv, pipe: pipe, reg: reg, bucket: bucket, raw: fb, wantIn: reqBody, wantOut: respBody}
		if redactor != nil {
			if g.wantIn, g.wantFired, err = redactedBodies(redactor, pol); err != nil {
				_ = pipe.Close(context.Background())
				return err
			}
		}
		e.gws[name] = g
		return nil
	}
	for _, g := range []struct {
		name string
		o    gwOpts
	}{
		{pathOff, gwOpts{}},
		{pathCapture, gwOpts{enabled: true}},
		{pathProtect, gwOpts{enabled: true, protect: true}},
		{pathSync, gwOpts{enabled: true, sync: true}},
		{pathIndexed, gwOpts{enabled: true, index: true}},
	} {
		if err = newGateway(g.name, g.o); err != nil {
			return nil, err
		}
	}

	// Fail fast when a path does not answer as expected.
	for _, p := range allPaths {
		w := newLoadWorker(e.urls[p])
		err := w.do()
		e.probes[p]++
		w.tr.CloseIdleConnections()
		if err != nil {
			return nil, fmt.Errorf("probe %s (%s): %w", p, e.urls[p], err)
		}
	}
	return e, nil
}

func (e *env) cleanup() {
	for _, s := range e.servers {
		_ = s.Close()
	}
	if !e.closed {
		for _, g := range e.gws {
			_ = g.pipe.Close(context.Background())
		}
	}
	for _, db := range e.dbs {
		_ = db.Close()
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

// accounting is what the capturing gateways wrote after Close.
type accounting struct {
	paths      []*pathAccounting // in capturePaths order
	offWritten float64           // glassbox-off's written counter
	offLines   int64             // and its objects' lines
	offErr     error
}

// pathAccounting is what one capture path wrote, checked three ways: the
// client's response count, the pipeline's metrics and the objects' lines.
type pathAccounting struct {
	path      string
	sync      bool
	responses int64 // responses the client got from the path's gateway
	written   float64
	dropped   float64 // glassbox_capture_records_dropped_total
	rejected  float64 // glassbox_capture_rejected_total (sync: 503s)
	droppedBy map[string]float64
	lines     int64
	objects   int64
	encrypted int64 // objects checked encrypted, without the clear e-mail
	checked   int64 // lines decoded and compared with the bodies
	err       error
}

func (a *accounting) get(path string) *pathAccounting {
	if a == nil {
		return nil
	}
	for _, p := range a.paths {
		if p.path == path {
			return p
		}
	}
	return nil
}

// err is every reconciliation problem, or nil.
func (a *accounting) err() error {
	if a == nil {
		return nil
	}
	errs := []error{a.offErr}
	for _, p := range a.paths {
		errs = append(errs, p.err)
	}
	return errors.Join(errs...)
}

// finishCapture stops the gateways (waiting for in-flight exchanges),
// closes their pipelines, and reconciles the counts of each capture path:
// after Close, asynchronous capture has one record per response unless it
// was dropped and counted; synchronous capture has exactly one record per
// 2xx response, nothing dropped and nothing rejected.
func (e *env) finishCapture(responses map[string]int64) (*accounting, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	names := append([]string{pathOff}, capturePaths...)
	for _, p := range names {
		if err := e.gws[p].srv.Shutdown(ctx); err != nil {
			return nil, fmt.Errorf("stop %s gateway: %w", p, err)
		}
	}
	e.closed = true
	for _, p := range names {
		if err := e.gws[p].pipe.Close(ctx); err != nil {
			return nil, fmt.Errorf("close capture pipeline of %s: %w", p, err)
		}
	}
	a := &accounting{}
	for _, p := range capturePaths {
		g := e.gws[p]
		pa := &pathAccounting{path: p, sync: p == pathSync, responses: responses[p]}
		a.paths = append(a.paths, pa)
		var err error
		if pa.written, _, err = counter(g.reg, "glassbox_capture_records_written_total", ""); err != nil {
			return nil, err
		}
		if pa.dropped, pa.droppedBy, err = counter(g.reg, "glassbox_capture_records_dropped_total", "reason"); err != nil {
			return nil, err
		}
		if pa.rejected, _, err = counter(g.reg, "glassbox_capture_rejected_total", ""); err != nil {
			return nil, err
		}
		if err := countLines(ctx, g, pa); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		var problems []string
		if float64(pa.lines) != pa.written {
			problems = append(problems, fmt.Sprintf("objects hold %d lines but the written counter says %.0f", pa.lines, pa.written))
		}
		if pa.sync {
			if pa.written != float64(pa.responses) || pa.dropped != 0 || pa.rejected != 0 {
				problems = append(problems, fmt.Sprintf("%d 2xx responses served but %.0f records written, %.0f dropped, %.0f rejected (want one record per 2xx, none dropped or rejected)",
					pa.responses, pa.written, pa.dropped, pa.rejected))
			}
		} else if pa.written+pa.dropped != float64(pa.responses) {
			problems = append(problems, fmt.Sprintf("written %.0f + dropped %.0f != %d responses served", pa.written, pa.dropped, pa.responses))
		}
		if len(problems) > 0 {
			pa.err = fmt.Errorf("capture accounting of %s: %s", p, strings.Join(problems, "; "))
		}
	}
	off := e.gws[pathOff]
	var err error
	if a.offWritten, _, err = counter(off.reg, "glassbox_capture_records_written_total", ""); err != nil {
		return nil, err
	}
	offLines := &pathAccounting{}
	if err := countLines(ctx, off, offLines); err != nil {
		return nil, fmt.Errorf("%s: %w", pathOff, err)
	}
	a.offLines = offLines.lines
	if a.offWritten != 0 || a.offLines != 0 {
		a.offErr = fmt.Errorf("capture accounting: glassbox-off captured %d records with capture disabled", a.offLines)
	}
	return a, nil
}

// counter sums a counter family from reg, optionally also by one label.
func counter(reg *prometheus.Registry, name, label string) (float64, map[string]float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, nil, fmt.Errorf("gather metrics: %w", err)
	}
	var sum float64
	by := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v := m.GetCounter().GetValue()
			sum += v
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					by[lp.GetValue()] += v
				}
			}
		}
	}
	return sum, by, nil
}

// histogramSum is the sum of the observations of a histogram family in reg.
func histogramSum(reg *prometheus.Registry, name string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, fmt.Errorf("gather metrics: %w", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return sum, nil
}

// countLines counts the records of every object of g's bucket and decodes
// every 100th one, checking that it holds the exact request and response
// bodies (as redacted, with the rules that fired, on glassbox-protect). On
// glassbox-protect it also checks every stored object: encrypted, and
// without the request's e-mail address in clear.
func countLines(ctx context.Context, g *gwEnv, a *pathAccounting) error {
	b := g.bucket
	return b.List(ctx, "", func(oi objstore.ObjectInfo) error {
		if g.wantFired != nil {
			a.encrypted++
			if err := checkStored(ctx, g.raw, oi.Key); err != nil {
				return err
			}
		}
		rc, err := b.Get(ctx, oi.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		a.objects++
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			a.lines++
			if a.lines%100 != 1 {
				continue
			}
			rec, err := capture.DecodeRecord(sc.Bytes())
			if err != nil {
				return fmt.Errorf("%s line: %w", oi.Key, err)
			}
			in, out := rec.CaptureData.EndpointInput, rec.CaptureData.EndpointOutput
			if in == nil || out == nil || in.Encoding != capture.EncodingJSON || out.Encoding != capture.EncodingJSON ||
				in.Data != string(g.wantIn) || out.Data != string(g.wantOut) {
				return fmt.Errorf("%s: record %s does not hold the request and response bodies as JSON", oi.Key, rec.EventMetadata.EventID)
			}
			var fired []string
			if rec.Glassbox != nil {
				fired = rec.Glassbox.Redactions
			}
			if !slices.Equal(fired, g.wantFired) {
				return fmt.Errorf("%s: record %s lists redactions %q, want %q", oi.Key, rec.EventMetadata.EventID, fired, g.wantFired)
			}
			a.checked++
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read %s: %w", oi.Key, err)
		}
		return nil
	})
}

// checkStored reads the stored bytes of key: they must be an encrypted
// object and must not hold the request's e-mail address.
func checkStored(ctx context.Context, raw *file.Bucket, key string) error {
	rc, err := raw.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read stored %s: %w", key, err)
	}
	if !keys.IsEncrypted(data) {
		return fmt.Errorf("stored object %s is not encrypted", key)
	}
	if bytes.Contains(data, []byte(reqEmail)) {
		return fmt.Errorf("stored object %s holds the e-mail address in clear", key)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Load generator

// loadResult is one cell's measurement, sent by the child as JSON.
type loadResult struct {
	Requests int64         // 200 responses with the right body, measured phase
	Warmup   int64         // 200 responses during the warm-up
	Errors   int64         // transport errors (both phases)
	Non200   int64         // responses with another status (both phases)
	BadBody  int64         // 200 responses with a wrong body (both phases)
	FirstErr string        `json:",omitempty"`
	ChildCPU time.Duration `json:"-"` // load generator's CPU time, set by the parent
	Elapsed  time.Duration // measured phase, until the last response
	P50, P90 time.Duration
	P99, Max time.Duration
}

func (r loadResult) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// runLoadCell runs one cell in a child process (exe != "") or in-process.
func runLoadCell(exe, target string, conns int, warmup, dur time.Duration) (loadResult, error) {
	if exe == "" {
		return runLoad(target, conns, warmup, dur), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), warmup+dur+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-worker", "-url", target, "-conns", strconv.Itoa(conns),
		"-warmup", warmup.String(), "-duration", dur.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return loadResult{}, fmt.Errorf("load generator: %w", err)
	}
	var res loadResult
	if err := json.Unmarshal(out, &res); err != nil {
		return loadResult{}, fmt.Errorf("load generator output %q: %w", out, err)
	}
	res.ChildCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, nil
}

// workerMain is the child process: run one cell, print its loadResult.
func workerMain(args []string) int {
	fs := flag.NewFlagSet("gwbench -worker", flag.ContinueOnError)
	target := fs.String("url", "", "target URL")
	conns := fs.Int("conns", 1, "concurrent closed-loop workers")
	warmup := fs.Duration("warmup", time.Second, "warm-up")
	dur := fs.Duration("duration", 5*time.Second, "measured duration")
	if err := fs.Parse(args); err != nil || *target == "" || *conns <= 0 {
		fmt.Fprintln(os.Stderr, "gwbench -worker: bad arguments", args)
		return 2
	}
	res := runLoad(*target, *conns, *warmup, *dur)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "gwbench -worker:", err)
		return 1
	}
	return 0
}

type loadWorker struct {
	target string
	tr     *http.Transport
	hdr    http.Header
	buf    []byte
	hist   histogram

	ok, errs, non200, bad int64
	firstErr              string
}

func newLoadWorker(target string) *loadWorker {
	return &loadWorker{
		target: target,
		tr: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        8,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		hdr: http.Header{"Content-Type": {"application/json"}},
		buf: make([]byte, 4<<10),
	}
}

// do sends one request and checks the answer: 200 and the exact 1 KiB body.
func (w *loadWorker) do() error {
	req, err := http.NewRequest(http.MethodPost, w.target, bytes.NewReader(reqBody))
	if err != nil {
		return err
	}
	req.Header = w.hdr // read-only for the transport
	resp, err := w.tr.RoundTrip(req)
	if err != nil {
		w.errs++
		return err
	}
	n, rerr := readAll(resp.Body, w.buf)
	resp.Body.Close()
	switch {
	case rerr != nil:
		w.errs++
		return fmt.Errorf("read response: %w", rerr)
	case resp.StatusCode != http.StatusOK:
		w.non200++
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, w.buf[:n])
	case !bytes.Equal(w.buf[:n], respBody):
		w.bad++
		return fmt.Errorf("response body of %d bytes differs from the model's", n)
	}
	w.ok++
	return nil
}

// readAll reads r into buf, counting bytes beyond len(buf) without keeping
// them.
func readAll(r io.Reader, buf []byte) (int, error) {
	n := 0
	for {
		if n == len(buf) {
			m, err := io.Copy(io.Discard, r)
			return n + int(m), err
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// runLoad runs conns closed-loop workers for warmup, then for dur while
// recording each request's latency.
func runLoad(target string, conns int, warmup, dur time.Duration) loadResult {
	workers := make([]*loadWorker, conns)
	for i := range workers {
		workers[i] = newLoadWorker(target)
	}
	defer func() {
		for _, w := range workers {
			w.tr.CloseIdleConnections()
		}
	}()
	phase := func(d time.Duration, record bool) {
		deadline := time.Now().Add(d)
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					t0 := time.Now()
					err := w.do()
					if err != nil {
						if w.firstErr == "" {
							w.firstErr = err.Error()
						}
						// Stop this worker; the run fails anyway, and
						// a dead target would otherwise spin.
						return
					}
					if record {
						w.hist.add(time.Since(t0))
					}
				}
			})
		}
		wg.Wait()
	}

	var res loadResult
	phase(warmup, false)
	for _, w := range workers {
		res.Warmup += w.ok
		w.ok = 0
	}
	start := time.Now()
	phase(dur, true)
	res.Elapsed = time.Since(start)

	var h histogram
	for _, w := range workers {
		res.Requests += w.ok
		res.Errors += w.errs
		res.Non200 += w.non200
		res.BadBody += w.bad
		if res.FirstErr == "" {
			res.FirstErr = w.firstErr
		}
		h.merge(&w.hist)
	}
	res.P50, res.P90, res.P99 = h.quantile(0.50), h.quantile(0.90), h.quantile(0.99)
	res.Max = h.max()
	return res
}

// histogram is a log-linear latency histogram over nanoseconds: exact below
// 256 ns, then 128 buckets per power of two (relative error < 0.8%, i.e.
// well under 1 µs up to 100 µs), covering the whole int64 range with a fixed
// 58 KiB footprint, so memory does not grow with the request count.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
}

const (
	histSubBits = 8
	histHalf    = 1 << (histSubBits - 1)
	histBuckets = (64 - histSubBits + 2) * histHalf
)

func histIndex(v uint64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits
	return e*histHalf + int(v>>uint(e))
}

// histValue is the midpoint of bucket i.
func histValue(i int) uint64 {
	if i < 1<<histSubBits {
		return uint64(i)
	}
	e := i/histHalf - 1
	m := uint64(i - e*histHalf)
	return m<<uint(e) + (uint64(1)<<uint(e))/2
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))]++
	h.n++
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			return time.Duration(histValue(i))
		}
	}
	return 0
}

func (h *histogram) max() time.Duration {
	for i := len(h.counts) - 1; i >= 0; i-- {
		if h.counts[i] > 0 {
			return time.Duration(histValue(i))
		}
	}
	return 0
}

// ---------------------------------------------------------------------------
// Report

// stats are the medians over a cell's repetitions.
type stats struct {
	rate, spread float64 // req/s; (max−min)/median of req/s
	p50, p99     time.Duration
	cpu          float64
	ok           bool
}

func (c *cell) stats() stats {
	if c == nil || len(c.runs) == 0 {
		return stats{}
	}
	var rates, p50, p99 []float64
	for _, r := range c.runs {
		rates = append(rates, r.rate())
		p50 = append(p50, float64(r.P50))
		p99 = append(p99, float64(r.P99))
	}
	s := stats{
		rate: benchfmt.Median(rates),
		p50:  time.Duration(benchfmt.Median(p50)),
		p99:  time.Duration(benchfmt.Median(p99)),
		cpu:  benchfmt.Median(c.cpu),
		ok:   true,
	}
	if s.rate > 0 {
		s.spread = (slices.Max(rates) - slices.Min(rates)) / s.rate
	}
	return s
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Round(time.Microsecond).Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func fmtSignedDur(d time.Duration) string {
	if d < 0 {
		return "−" + fmtDur(-d)
	}
	return "+" + fmtDur(d)
}

func fmtSignedFloat(f float64) string {
	if math.IsNaN(f) {
		return "n/a"
	}
	if f < 0 {
		return "−" + strconv.FormatFloat(-f, 'f', 1, 64)
	}
	return "+" + strconv.FormatFloat(f, 'f', 1, 64)
}

// ruleList is protectRules as the config would write them.
func ruleList() string {
	var rs []string
	for _, r := range protectRules {
		rs = append(rs, r.Detector+": "+string(r.Action))
	}
	return "[" + strings.Join(rs, ", ") + "]"
}

func fmtRate(f float64) string {
	s := strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func renderReport(cfg *config, ordered []*cell, cells map[string]*cell, key func(string, int) string, a *accounting, otherCPU []float64) string {
	var b strings.Builder
	host, _ := os.Hostname()
	loadGen := "child process (re-executed with -worker)"
	if cfg.inproc {
		loadGen = "in-process"
	}
	load := "n/a"
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(la))[:min(3, len(strings.Fields(string(la))))], " ")
	}
	fmt.Fprintf(&b, "## Glassbox gateway benchmark (tools/gwbench)\n\n")
	fmt.Fprintf(&b, "%s, %s %s/%s, %d CPUs (GOMAXPROCS %d), host %s, load average at the end %s. Loopback HTTP/1.1 keep-alive; "+
		"POST %d-byte JSON, %d-byte JSON answer. Closed loop, load generator in a %s; "+
		"%v warm-up + %v measured per cell, median of %d interleaved reps.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0), host, load, reqBodySize, respBodySize, loadGen,
		cfg.warmup, cfg.duration, cfg.reps)
	objBytes := cfg.maxObjectBytes
	if objBytes <= 0 {
		objBytes = capture.DefaultMaxObjectBytes
	}
	fmt.Fprintf(&b, "glassbox-capture: 100%% sampling, input+output, async capture.Spool (default settings) into objstore/file, MaxObjectBytes %d MiB. "+
		"glassbox-sync: the same with a synchronous policy (Sync: true; each response is held until its record is fsynced, "+
		"concurrent requests share fsyncs by group commit), with its own spool and bucket. "+
		"glassbox-protect: glassbox-capture plus capture.encrypt (every object AES-256-GCM encrypted under a fresh data key "+
		"wrapped by a local keyring, and the spool's segments encrypted record by record) and capture.redact rules %s, on the same requests (each holds one e-mail address, "+
		"which the hash rule replaces; the response holds no personal data but is scanned too), with its own spool, bucket "+
		"and keyring. Redaction and spool encryption run in the spool's writer, object encryption in the uploader, all off the request path.\n\n",
		objBytes>>20, ruleList())
	if len(otherCPU) > 0 {
		mx := slices.Max(otherCPU)
		// /proc/stat is tick-sampled while rusage is exact, so on an idle
		// machine this reads about −15% (c=1) to +5% (c=64).
		fmt.Fprintf(&b, "Other processes' CPU during the cells (noise indicator; reads ≈ −15…+5%% when idle): median %.0f%%, max %.0f%% of one core.", 100*benchfmt.Median(otherCPU), 100*mx)
		if mx > 0.2 {
			b.WriteString(" **WARNING: the machine was not idle during some cells; numbers may be skewed.**")
		}
		b.WriteString("\n\n")
	}

	b.WriteString("| path | conns | req/s | p50 | p99 | req/s spread | server CPU µs/req |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range ordered {
		s := c.stats()
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %.0f%% | %s |\n",
			c.path, c.conns, fmtRate(s.rate), fmtDur(s.p50), fmtDur(s.p99), 100*s.spread, benchfmt.Float(s.cpu, 1))
	}
	b.WriteString("\nreq/s spread = (max − min) / median over reps. Server CPU = CPU time of the process hosting " +
		"all servers (upstream included) per completed request, warm-up included.\n\n")

	get := func(p string, c int) stats { return cells[key(p, c)].stats() }
	b.WriteString("| check | value | target | result |\n|---|---:|---:|---|\n")
	row := func(name string, have bool, value, target string, ok bool) {
		if !have {
			fmt.Fprintf(&b, "| %s | n/a | %s | n/a |\n", name, target)
			return
		}
		result := passMiss(ok)
		if target == "informational" {
			result = "—"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, value, target, result)
	}
	capHi, proxyHi, offHi, directHi := get(pathCapture, 64), get(pathProxy, 64), get(pathOff, 64), get(pathDirect, 64)
	capLo, directLo, proxyLo := get(pathCapture, 1), get(pathDirect, 1), get(pathProxy, 1)
	ratio := func(x, y stats) float64 { return x.rate / y.rate }
	// Throughput ratios pair the cells of one repetition (they ran seconds
	// apart) and take the median of the per-rep ratios, so that the machine
	// drifting between repetitions does not move the ratio.
	paired := func(xp, yp string, c int) float64 {
		x, y := cells[key(xp, c)], cells[key(yp, c)]
		var rs []float64
		for i := 0; x != nil && y != nil && i < len(x.runs) && i < len(y.runs); i++ {
			if yr := y.runs[i].rate(); yr > 0 {
				rs = append(rs, x.runs[i].rate()/yr)
			}
		}
		return benchfmt.Median(rs)
	}
	capProxy, capOff := paired(pathCapture, pathProxy, 64), paired(pathCapture, pathOff, 64)
	row("glassbox-capture / proxy throughput at c=64 (median of per-rep ratios)", capHi.ok && proxyHi.ok,
		fmt.Sprintf("%.2f", capProxy), fmt.Sprintf("≥ %.2f", targetThroughputRatio), capProxy >= targetThroughputRatio)
	row("glassbox-capture / glassbox-off throughput at c=64 (median of per-rep ratios)", capHi.ok && offHi.ok,
		fmt.Sprintf("%.2f", capOff), fmt.Sprintf("≥ %.2f", targetThroughputRatio), capOff >= targetThroughputRatio)
	row("added p50 at c=1: glassbox-capture − proxy (the gateway's own cost)", capLo.ok && proxyLo.ok,
		fmtSignedDur(capLo.p50-proxyLo.p50), "informational", true)
	row("added p50 at c=1: glassbox-capture − direct", capLo.ok && directLo.ok,
		fmtSignedDur(capLo.p50-directLo.p50), "≤ "+fmtDur(targetAddedP50), capLo.p50-directLo.p50 <= targetAddedP50)
	row("added p99 at c=64: glassbox-capture − direct", capHi.ok && directHi.ok,
		fmtSignedDur(capHi.p99-directHi.p99), "≤ "+fmtDur(targetAddedP99)+" (§7.1 anchor, set for low load)", capHi.p99-directHi.p99 <= targetAddedP99)
	idxHi := get(pathIndexed, 64)
	idxCap := paired(pathIndexed, pathCapture, 64)
	row("glassbox-indexed / glassbox-capture throughput at c=64 (capture index in SQLite on vs off)", idxHi.ok && capHi.ok,
		fmt.Sprintf("%.2f", idxCap), "≥ 0.90", idxCap >= 0.9)
	protHi, protLo := get(pathProtect, 64), get(pathProtect, 1)
	protCap := paired(pathProtect, pathCapture, 64)
	row("glassbox-protect / glassbox-capture throughput at c=64 (encryption + redaction on vs off; median of per-rep ratios)", protHi.ok && capHi.ok,
		fmt.Sprintf("%.2f", protCap), fmt.Sprintf("≥ %.2f", targetProtectRatio), protCap >= targetProtectRatio)
	protCapLo := paired(pathProtect, pathCapture, 1)
	// On a saturated machine throughput is about the cores over the CPU a
	// request costs (servers and load generator): the ratio that CPU
	// implies moves much less than req/s when other processes take cores.
	protCPU := pairedInv(cells[key(pathProtect, 64)], cells[key(pathCapture, 64)])
	row("glassbox-protect / glassbox-capture throughput implied by CPU per request at c=64 (server + load generator; capture's / protect's, median of per-rep ratios)",
		protHi.ok && capHi.ok && !math.IsNaN(protCPU), benchfmt.Float(protCPU, 2), fmt.Sprintf("≥ %.2f", targetProtectRatio), protCPU >= targetProtectRatio)
	row("glassbox-protect / glassbox-capture throughput at c=1 (median of per-rep ratios)", protLo.ok && capLo.ok,
		fmt.Sprintf("%.2f", protCapLo), "informational", true)
	row("added p50 / p99 at c=1: glassbox-protect − glassbox-capture", protLo.ok && capLo.ok,
		fmtSignedDur(protLo.p50-capLo.p50)+" / "+fmtSignedDur(protLo.p99-capLo.p99), "informational", true)
	row("added p50 / p99 at c=64: glassbox-protect − glassbox-capture", protHi.ok && capHi.ok,
		fmtSignedDur(protHi.p50-capHi.p50)+" / "+fmtSignedDur(protHi.p99-capHi.p99), "informational", true)
	row("added server CPU per request at c=64 / c=1: glassbox-protect − glassbox-capture", protHi.ok && capHi.ok && protLo.ok && capLo.ok,
		fmtSignedFloat(protHi.cpu-capHi.cpu)+" / "+fmtSignedFloat(protLo.cpu-capLo.cpu)+" µs", "informational", true)
	syncHi, syncLo := get(pathSync, 64), get(pathSync, 1)
	syncAsync := paired(pathSync, pathCapture, 64)
	row("glassbox-sync / glassbox-capture (async) throughput at c=64 (median of per-rep ratios)", syncHi.ok && capHi.ok,
		fmt.Sprintf("%.2f", syncAsync), fmt.Sprintf("≥ %.2f", targetSyncRatio), syncAsync >= targetSyncRatio)
	row("added p50 / p99 of sync vs async at c=1: glassbox-sync − glassbox-capture", syncLo.ok && capLo.ok,
		fmtSignedDur(syncLo.p50-capLo.p50)+" / "+fmtSignedDur(syncLo.p99-capLo.p99), "informational", true)
	row("added p50 / p99 of sync vs async at c=64: glassbox-sync − glassbox-capture", syncHi.ok && capHi.ok,
		fmtSignedDur(syncHi.p50-capHi.p50)+" / "+fmtSignedDur(syncHi.p99-capHi.p99), "informational", true)
	if pa := a.get(pathCapture); pa != nil {
		row("capture records dropped (glassbox-capture)", true, fmt.Sprintf("%.0f", pa.dropped), "0", pa.dropped == 0)
	}
	if pa := a.get(pathProtect); pa != nil {
		row("capture records dropped (glassbox-protect)", true, fmt.Sprintf("%.0f", pa.dropped), "0", pa.dropped == 0)
	}
	if pa := a.get(pathSync); pa != nil {
		row("capture records dropped + rejected (glassbox-sync)", true, fmt.Sprintf("%.0f", pa.dropped+pa.rejected), "0", pa.dropped+pa.rejected == 0)
	}
	b.WriteString("\nFor context, the bare proxy hop: ")
	var ctx []string
	if proxyHi.ok && directHi.ok {
		ctx = append(ctx, fmt.Sprintf("proxy / direct throughput at c=64 %.2f", ratio(proxyHi, directHi)))
	}
	if proxyLo.ok && directLo.ok {
		ctx = append(ctx, "added p50 at c=1 "+fmtSignedDur(proxyLo.p50-directLo.p50))
	}
	if proxyHi.ok && directHi.ok {
		ctx = append(ctx, "added p99 at c=64 "+fmtSignedDur(proxyHi.p99-directHi.p99))
	}
	if len(ctx) == 0 {
		ctx = append(ctx, "n/a (proxy or direct not measured)")
	}
	b.WriteString(strings.Join(ctx, "; ") + ".\n")

	renderSpool(&b, ordered)
	if a != nil {
		for _, pa := range a.paths {
			var reasons []string
			for r, v := range pa.droppedBy {
				reasons = append(reasons, fmt.Sprintf("%s %.0f", r, v))
			}
			slices.Sort(reasons)
			dropDetail := ""
			if len(reasons) > 0 {
				dropDetail = " (" + strings.Join(reasons, ", ") + ")"
			}
			fmt.Fprintf(&b, "\nCapture (%s, warm-ups included): %d responses served; "+
				"records written %.0f (glassbox_capture_records_written_total), dropped %.0f%s "+
				"(glassbox_capture_records_dropped_total), rejected %.0f (glassbox_capture_rejected_total); "+
				"%d lines in %d objects after Close, %d sampled lines decoded and matched the request/response bodies.",
				pa.path, pa.responses, pa.written, pa.dropped, dropDetail, pa.rejected, pa.lines, pa.objects, pa.checked)
			if pa.encrypted > 0 {
				fmt.Fprintf(&b, " All %d stored objects are encrypted and none holds the e-mail address in clear; "+
					"decoded lines hold the redacted request.", pa.encrypted)
			}
			switch {
			case pa.err != nil:
				fmt.Fprintf(&b, " **ERROR: %v**", pa.err)
			case pa.sync:
				b.WriteString(" Counts reconcile: one record per 2xx response.")
			default:
				b.WriteString(" Counts reconcile.")
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "\nglassbox-off wrote %.0f records (%d lines).", a.offWritten, a.offLines)
		if a.offErr != nil {
			fmt.Fprintf(&b, " **ERROR: %v**", a.offErr)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// pairedInv is the median over reps of y's total CPU per request over x's:
// the throughput ratio x/y that CPU cost implies on a saturated machine.
func pairedInv(x, y *cell) float64 {
	var rs []float64
	for i := 0; x != nil && y != nil && i < len(x.total) && i < len(y.total); i++ {
		rs = append(rs, y.total[i]/x.total[i])
	}
	return benchfmt.Median(rs)
}

// renderSpool writes the group-commit table: per capture cell, the spool's
// fsyncs per request and their mean duration (medians over reps).
func renderSpool(b *strings.Builder, ordered []*cell) {
	var rows []string
	for _, c := range ordered {
		if len(c.spool) == 0 {
			continue
		}
		var perReq, mean, perFsync []float64
		for _, sp := range c.spool {
			if sp.requests > 0 {
				perReq = append(perReq, sp.fsyncs/float64(sp.requests))
			}
			if sp.fsyncs > 0 {
				mean = append(mean, sp.fsyncSeconds/sp.fsyncs)
				perFsync = append(perFsync, float64(sp.requests)/sp.fsyncs)
			}
		}
		meanFsync := "n/a"
		if m := benchfmt.Median(mean); !math.IsNaN(m) {
			meanFsync = fmtDur(time.Duration(m * float64(time.Second)))
		}
		rows = append(rows, fmt.Sprintf("| %s | %d | %s | %s | %s |\n",
			c.path, c.conns, benchfmt.Float(benchfmt.Median(perReq), 3), benchfmt.Float(benchfmt.Median(perFsync), 1), meanFsync))
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\nSpool fsyncs (group-commit indicator; glassbox_spool_fsyncs_total and glassbox_spool_fsync_duration_seconds " +
		"over each cell, warm-up included, median over reps). A synchronous request needs its record fsynced, so " +
		"fsyncs/req well below 1 at c=64 means concurrent requests share fsyncs; asynchronous capture fsyncs on its interval.\n\n")
	b.WriteString("| path | conns | fsyncs/req | req/fsync | mean fsync |\n|---|---:|---:|---:|---:|\n")
	for _, r := range rows {
		b.WriteString(r)
	}
}

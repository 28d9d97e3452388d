// Command uploadbench measures the capture spool uploader's sustained
// throughput against two blob stores, and compares it with what each store
// takes when the same bytes are written to it directly:
//
//	file  objstore/file in a temp folder (durable write: temp file, fsync,
//	      rename, fsync the folder)
//	s3    objstore/s3 on a moto_server this command starts on a loopback
//	      port (python3 -m moto.server; path style, credentials test/test,
//	      region us-east-1)
//
// For each target it runs two measurements, interleaved per repetition:
//
//	spool+uploader  -mib MiB of ~2 KiB capture lines submitted to a
//	                capture.Spool (asynchronous policy, 16 MiB segments);
//	                timed from the first Submit until Close returns, which
//	                is when every segment is sealed, uploaded and deleted
//	                (the glassbox_spool_records gauge is then checked to be
//	                0). MB/s = glassbox_upload_bytes_total / time.
//	raw Put         the same number of bytes written with bucket.Put in
//	                16 MiB objects, one after the other, as the uploader
//	                does.
//
// The records are built before the clock starts, so the spool numbers
// include encoding, framing, the segment writes and fsyncs, the uploader's
// segment scan and its Puts, but not the construction of the exchanges.
//
// Usage:
//
//	go run ./tools/uploadbench                   # 256 MiB, file and s3
//	go run ./tools/uploadbench -quick            # 32 MiB
//	go run ./tools/uploadbench -out upload.md -cpuprofile cpu.out
//
// If moto_server is not available, the s3 rows say so and the command still
// exits 0; it exits non-zero on any error or when the spool's counts do not
// reconcile (records dropped, records or bytes missing in the store).
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
	"github.com/glassbox-dev/glassbox/internal/objstore/s3"
	"github.com/glassbox-dev/glassbox/tools/internal/benchfmt"
	"github.com/glassbox-dev/glassbox/tools/internal/cpustat"
)

const (
	segmentBytes = 16 << 20 // spool segment size and raw object size
	lineTarget   = 2 << 10  // approximate capture line size
	endpointName = "bench"
	motoRegion   = "us-east-1"
	motoKey      = "test"
	motoSecret   = "test"
)

const (
	targetFile = "file"
	targetS3   = "s3"
)

func main() {
	uuid.EnableRandPool()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "uploadbench:", err)
		os.Exit(1)
	}
}

type config struct {
	mib        int
	reps       int
	out        string
	cpuprofile string
	targets    []string
}

func parseFlags() (*config, error) {
	var (
		cfg     config
		quick   bool
		targets string
	)
	flag.IntVar(&cfg.mib, "mib", 256, "MiB of capture lines per measurement")
	flag.BoolVar(&quick, "quick", false, "smoke run: -mib 32")
	flag.IntVar(&cfg.reps, "reps", 1, "repetitions; the table reports medians (ratios: median of per-rep ratios)")
	flag.StringVar(&cfg.out, "out", "", "also write the markdown report to this file")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of this process (measurements only) to this file")
	flag.StringVar(&targets, "targets", targetFile+","+targetS3, "comma-separated targets: file, s3")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if quick {
		cfg.mib = 32
	}
	if cfg.mib <= 0 || cfg.reps <= 0 {
		return nil, errors.New("-mib and -reps must be positive")
	}
	for _, t := range strings.Split(targets, ",") {
		t = strings.TrimSpace(t)
		if t != targetFile && t != targetS3 {
			return nil, fmt.Errorf("-targets: unknown target %q (want file, s3)", t)
		}
		if !slices.Contains(cfg.targets, t) {
			cfg.targets = append(cfg.targets, t)
		}
	}
	return &cfg, nil
}

// sample is one measurement.
type sample struct {
	bytes   int64         // bytes that reached the store
	objects int           // objects written
	elapsed time.Duration // first Submit (or Put) until done
	written time.Duration // spool: until the writer had written every record
	putBusy time.Duration // spool: sum of glassbox_upload_duration_seconds
	ownCPU  time.Duration // this process's CPU time
	motoCPU time.Duration // moto_server's CPU time (s3 only)
	other   float64       // other processes' CPU in cores (noise), NaN if unknown
}

func (s sample) mbps() float64 { return float64(s.bytes) / 1e6 / s.elapsed.Seconds() }

// targetResult collects one target's samples.
type targetResult struct {
	name    string
	desc    string
	skipped string // why the target was not measured
	spool   []sample
	upload  []sample // uploader alone: spool pre-filled, uploads held until the writer is done
	raw     []sample
}

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "uploadbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintf(os.Stderr, "uploadbench: building %d MiB of capture lines\n", cfg.mib)
	w := newWorkload(int64(cfg.mib) << 20)
	fmt.Fprintf(os.Stderr, "uploadbench: %d records of %d–%d bytes, %d bytes in all\n", len(w.exchanges), w.minLine, w.maxLine, w.bytes)

	var results []*targetResult
	var moto *motoServer
	for _, t := range cfg.targets {
		switch t {
		case targetFile:
			results = append(results, &targetResult{name: targetFile, desc: "objstore/file in a temp folder"})
		case targetS3:
			r := &targetResult{name: targetS3, desc: "objstore/s3 on moto_server (loopback)"}
			results = append(results, r)
			m, err := startMoto(dir)
			if err != nil {
				r.skipped = "moto not available: skipped (" + err.Error() + ")"
				fmt.Fprintln(os.Stderr, "uploadbench:", r.skipped)
				continue
			}
			moto = m
			defer m.stop()
			r.desc = fmt.Sprintf("objstore/s3 on moto_server %s (loopback)", m.version)
		}
	}

	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	ctx := context.Background()
	for rep := 1; rep <= cfg.reps; rep++ {
		for _, r := range results {
			if r.skipped != "" {
				continue
			}
			for _, kind := range []string{"spool", "upload", "raw"} {
				bucket, cleanup, err := newBucket(ctx, r.name, dir, moto, fmt.Sprintf("%s-%d", kind, rep))
				if err != nil {
					return err
				}
				runtime.GC()
				var s sample
				spoolDir := filepath.Join(dir, fmt.Sprintf("%s-%s-%d", kind, r.name, rep))
				switch kind {
				case "spool":
					s, err = measureSpool(ctx, bucket, spoolDir, w, moto, false)
				case "upload":
					s, err = measureSpool(ctx, bucket, spoolDir, w, moto, true)
				default:
					s, err = measureRaw(ctx, bucket, w, moto)
				}
				if cerr := cleanup(); err == nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("%s %s rep %d: %w", r.name, kind, rep, err)
				}
				switch kind {
				case "spool":
					r.spool = append(r.spool, s)
				case "upload":
					r.upload = append(r.upload, s)
				default:
					r.raw = append(r.raw, s)
				}
				fmt.Fprintf(os.Stderr, "rep %d %-4s %-6s %7.1f MB/s  %d bytes in %d objects, %v; CPU: this process %.2f cores, moto %.2f cores, other processes %.2f cores\n",
					rep, r.name, kind, s.mbps(), s.bytes, s.objects, s.elapsed.Round(time.Millisecond),
					cores(s.ownCPU, s.elapsed), cores(s.motoCPU, s.elapsed), s.other)
			}
		}
	}
	pprof.StopCPUProfile()

	report := render(cfg, w, results)
	fmt.Print(report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "uploadbench: report written to", cfg.out)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Workload

// workload is the exchanges to submit and the bytes of their lines.
type workload struct {
	exchanges        []*capture.Exchange
	bytes            int64 // sum of the capture lines' lengths
	minLine, maxLine int
	line             []byte // one line, to fill the raw objects
}

// newWorkload builds exchanges whose capture lines (about lineTarget bytes
// each: a JSON request and response, the event metadata and Glassbox's
// extra object) add up to at least total bytes. The payloads are shared.
func newWorkload(total int64) *workload {
	pol := &capture.Policy{
		Endpoint:        endpointName,
		Enabled:         true,
		SamplingPercent: 100,
		Input:           true,
		Output:          true,
		ContentTypes:    capture.NewContentTypes([]string{"text/csv"}, []string{"application/json"}),
		MaxObjectBytes:  1 << 30, // objects are bounded by the segment size
	}
	mk := func(in, out []byte) *capture.Exchange {
		return &capture.Exchange{
			Policy:            pol,
			EventID:           uuid.NewString(),
			Variant:           "v1",
			Time:              time.Now(),
			Latency:           1234 * time.Microsecond,
			Status:            http.StatusOK,
			InputContentType:  "application/json",
			Input:             in,
			InputSize:         int64(len(in)),
			HasOutput:         true,
			OutputContentType: "application/json",
			Output:            out,
			OutputSize:        int64(len(out)),
		}
	}
	payload := func(n int, prefix string) []byte {
		const suffix = `"}`
		if n < len(prefix)+len(suffix) {
			n = len(prefix) + len(suffix)
		}
		return []byte(prefix + strings.Repeat("x", n-len(prefix)-len(suffix)) + suffix)
	}
	// Size the payloads so that a line is about lineTarget bytes: measure
	// the overhead of a line with small payloads, then give the response
	// two thirds of the rest.
	inPrefix, outPrefix := `{"instances":[{"features":[0.25,1.5,-3.75,42],"id":"`, `{"predictions":[0.12,0.88],"pad":"`
	probe := mk(payload(0, inPrefix), payload(0, outPrefix))
	overhead := len(capture.AppendLine(nil, probe)) - len(probe.Input) - len(probe.Output)
	room := max(lineTarget-overhead, 64)
	in, out := payload(room/3, inPrefix), payload(room-room/3, outPrefix)

	w := &workload{minLine: math.MaxInt}
	var scratch []byte
	for w.bytes < total {
		ex := mk(in, out)
		scratch = capture.AppendLine(scratch[:0], ex)
		w.exchanges = append(w.exchanges, ex)
		w.bytes += int64(len(scratch))
		w.minLine, w.maxLine = min(w.minLine, len(scratch)), max(w.maxLine, len(scratch))
		if w.line == nil {
			w.line = slices.Clone(scratch)
		}
	}
	return w
}

// ---------------------------------------------------------------------------
// Measurements

// measureSpool submits every exchange to a fresh spool on bucket and times
// it until Close has uploaded everything. With uploadOnly, the uploader's
// Puts are held until the writer has written every record, and the clock
// starts then: the uploader alone, without the writer competing for CPU
// and disk.
func measureSpool(ctx context.Context, bucket objstore.Bucket, spoolDir string, w *workload, moto *motoServer, uploadOnly bool) (sample, error) {
	var gate chan struct{}
	if uploadOnly {
		gate = make(chan struct{})
		bucket = gatedBucket{Bucket: bucket, gate: gate}
	}
	reg := prometheus.NewRegistry()
	opts := capture.DefaultSpoolOptions()
	opts.Dir = spoolDir
	opts.SegmentBytes = segmentBytes
	// Room for everything at once: the benchmark submits faster than any
	// store takes it, and must not drop.
	opts.MaxBytes = 4*w.bytes + 1<<30
	opts.QueueMaxRecords = len(w.exchanges) + 1
	opts.QueueMaxBytes = 1 << 40
	opts.Metrics = capture.NewMetrics(reg)
	sp, err := capture.OpenSpool(bucket, opts)
	if err != nil {
		return sample{}, err
	}
	closed := false
	defer func() {
		if !closed {
			_ = sp.Close(ctx)
		}
	}()
	n := float64(len(w.exchanges))

	cpu0, moto0, busy0 := cpustat.Process(), moto.cpu(), cpustat.MachineBusy()
	start := time.Now()
	// Poll the written counter to see when the writer is done (the
	// uploader may still be busy then).
	writtenAt := make(chan time.Duration, 1)
	stopPoll := make(chan struct{})
	go func() {
		defer close(writtenAt)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopPoll:
				return
			case <-t.C:
			}
			if v, _ := gather(reg, "glassbox_capture_records_written_total"); v >= n {
				writtenAt <- time.Since(start)
				return
			}
		}
	}()
	for _, ex := range w.exchanges {
		if err := sp.Submit(ctx, ex); err != nil {
			close(stopPoll)
			return sample{}, fmt.Errorf("submit: %w", err)
		}
	}
	if uploadOnly {
		select {
		case <-writtenAt:
		case <-time.After(10 * time.Minute):
			close(stopPoll)
			return sample{}, errors.New("the spool writer did not write every record within 10 minutes")
		}
		cpu0, moto0, busy0 = cpustat.Process(), moto.cpu(), cpustat.MachineBusy()
		start = time.Now()
		close(gate)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	err = sp.Close(cctx)
	cancel()
	closed = true
	elapsed := time.Since(start)
	s := sample{elapsed: elapsed, ownCPU: cpustat.Process() - cpu0, motoCPU: moto.cpu() - moto0}
	s.other = otherCPU(busy0, s)
	close(stopPoll)
	if !uploadOnly {
		s.written = <-writtenAt
	}
	if err != nil {
		return s, err
	}

	// Reconcile: every record written, uploaded, and nothing left.
	var problems []string
	get := func(name string) float64 {
		v, err := gather(reg, name)
		if err != nil {
			problems = append(problems, err.Error())
		}
		return v
	}
	written, uploaded := get("glassbox_capture_records_written_total"), get("glassbox_capture_records_uploaded_total")
	dropped, left := get("glassbox_capture_records_dropped_total"), get("glassbox_spool_records")
	upBytes, putSec := get("glassbox_upload_bytes_total"), get("glassbox_upload_duration_seconds")
	if written != n || uploaded != n || dropped != 0 || left != 0 {
		problems = append(problems, fmt.Sprintf("%.0f records submitted: %.0f written, %.0f uploaded, %.0f dropped, %.0f still in the spool",
			n, written, uploaded, dropped, left))
	}
	if int64(upBytes) != w.bytes {
		problems = append(problems, fmt.Sprintf("uploaded %.0f bytes, want %d", upBytes, w.bytes))
	}
	s.bytes = int64(upBytes)
	s.putBusy = time.Duration(putSec * float64(time.Second))
	stored, objects, err := storedBytes(ctx, bucket)
	if err != nil {
		return s, err
	}
	s.objects = objects
	if stored != w.bytes {
		problems = append(problems, fmt.Sprintf("the store holds %d bytes in %d objects, want %d", stored, objects, w.bytes))
	}
	if len(problems) > 0 {
		return s, errors.New("spool accounting: " + strings.Join(problems, "; "))
	}
	return s, nil
}

// gatedBucket holds every Put until gate is closed.
type gatedBucket struct {
	objstore.Bucket
	gate chan struct{}
}

func (g gatedBucket) Put(ctx context.Context, key string, r io.Reader) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Bucket.Put(ctx, key, r)
}

// measureRaw writes w.bytes to bucket in segmentBytes objects, one Put
// after the other.
func measureRaw(ctx context.Context, bucket objstore.Bucket, w *workload, moto *motoServer) (sample, error) {
	buf := bytes.Repeat(w.line, segmentBytes/len(w.line)+1)[:segmentBytes]
	cpu0, moto0, busy0 := cpustat.Process(), moto.cpu(), cpustat.MachineBusy()
	start := time.Now()
	var s sample
	for left := w.bytes; left > 0; {
		n := min(left, segmentBytes)
		key := capture.ObjectKey(endpointName, "raw", start, fmt.Sprintf("%08d", s.objects))
		if err := bucket.Put(ctx, key, bytes.NewReader(buf[:n])); err != nil {
			return s, err
		}
		s.objects++
		s.bytes += n
		left -= n
	}
	s.elapsed = time.Since(start)
	s.ownCPU, s.motoCPU = cpustat.Process()-cpu0, moto.cpu()-moto0
	s.other = otherCPU(busy0, s)
	stored, _, err := storedBytes(ctx, bucket)
	if err != nil {
		return s, err
	}
	if stored != s.bytes {
		return s, fmt.Errorf("raw: the store holds %d bytes, want %d", stored, s.bytes)
	}
	return s, nil
}

// storedBytes lists bucket and sums the object sizes.
func storedBytes(ctx context.Context, b objstore.Bucket) (int64, int, error) {
	var sum int64
	var n int
	err := b.List(ctx, "", func(oi objstore.ObjectInfo) error {
		sum += oi.Size
		n++
		return nil
	})
	return sum, n, err
}

// newBucket returns an empty bucket of the target and a function that
// deletes what was written to it (moto keeps objects in memory).
func newBucket(ctx context.Context, target, dir string, moto *motoServer, name string) (objstore.Bucket, func() error, error) {
	switch target {
	case targetFile:
		root := filepath.Join(dir, "bucket-"+name)
		b, err := file.New(root)
		if err != nil {
			return nil, nil, err
		}
		return b, func() error { return os.RemoveAll(root) }, nil
	case targetS3:
		bucketName := "uploadbench-" + name
		if err := moto.createBucket(ctx, bucketName); err != nil {
			return nil, nil, err
		}
		b, err := s3.New(ctx, s3.Options{Bucket: bucketName, Region: motoRegion, Endpoint: moto.url, PathStyle: true})
		if err != nil {
			return nil, nil, err
		}
		return b, func() error {
			var keys []string
			if err := b.List(ctx, "", func(oi objstore.ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil {
				return err
			}
			for _, k := range keys {
				if err := b.Delete(ctx, k); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	return nil, nil, fmt.Errorf("unknown target %q", target)
}

// gather sums a counter, gauge or (sum of a) histogram family in reg.
func gather(reg *prometheus.Registry, name string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, fmt.Errorf("gather metrics: %w", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return sum, nil
}

// otherCPU is the CPU, in cores, that processes other than this one and
// moto used during s (tick resolution: noisy on short measurements).
func otherCPU(busy0 time.Duration, s sample) float64 {
	busy1 := cpustat.MachineBusy()
	if busy0 < 0 || busy1 < 0 {
		return math.NaN()
	}
	return cores(busy1-busy0-s.ownCPU-s.motoCPU, s.elapsed)
}

func cores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return math.NaN()
	}
	return cpu.Seconds() / wall.Seconds()
}

// ---------------------------------------------------------------------------
// moto_server

// motoServer is a moto_server child process on a loopback port. Like the
// test helper in internal/testenv, it runs moto's main after starting a
// thread that exits once stdin closes, so the server dies with this
// process.
type motoServer struct {
	url     string
	version string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	done    chan struct{}
	client  *awss3.Client
}

const motoWatchdog = `import os, sys, threading
def _watch():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=_watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
`

func startMoto(dir string) (*motoServer, error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, errors.New("python3 not found in PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// sys.executable: the interpreter itself, not a pyenv shim.
	out, err := exec.CommandContext(ctx, py, "-c", "import sys, moto, moto.server; print(sys.executable); print(moto.__version__)").Output()
	if err != nil {
		return nil, fmt.Errorf("python3 cannot import moto.server: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 2 {
		py = lines[0]
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()

	logPath := filepath.Join(dir, "moto.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(py, "-c", motoWatchdog, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &motoServer{url: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, stdin: stdin, done: make(chan struct{})}
	if len(lines) == 2 {
		m.version = lines[1]
	}
	go func() { _ = cmd.Wait(); close(m.done) }()
	if err := m.waitReady(20 * time.Second); err != nil {
		m.stop()
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("moto_server did not start: %v; log: %.2000s", err, log)
	}
	// objstore/s3 reads credentials from the SDK's chain.
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": motoKey, "AWS_SECRET_ACCESS_KEY": motoSecret, "AWS_EC2_METADATA_DISABLED": "true"} {
		_ = os.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		_ = os.Unsetenv(k)
	}
	m.client = awss3.New(awss3.Options{
		Region:       motoRegion,
		BaseEndpoint: aws.String(m.url),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(motoKey, motoSecret, ""),
		DisableLogOutputChecksumValidationSkipped: true,
	})
	return m, nil
}

func (m *motoServer) waitReady(timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(m.url + "/moto-api/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		select {
		case <-m.done:
			return errors.New("the server process exited")
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", timeout, err)
		}
	}
}

func (m *motoServer) createBucket(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := m.client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %q on %s: %w", name, m.url, err)
	}
	return nil
}

// cpu is moto_server's user+system CPU time so far, from /proc (0 when m is
// nil or /proc is not readable).
func (m *motoServer) cpu() time.Duration {
	if m == nil {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(m.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the ")" that ends the command name: state is field 3,
	// utime 14 and stime 15 (1-based), in USER_HZ (100) ticks.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func (m *motoServer) stop() {
	if m == nil || m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	_ = m.stdin.Close()
	m.cmd = nil
}

// ---------------------------------------------------------------------------
// Report

func medianOf(ss []sample, f func(sample) float64) float64 {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = f(s)
	}
	return benchfmt.Median(xs)
}

func fmtF(f float64, prec int) string {
	if math.IsNaN(f) {
		return "n/a"
	}
	return strconv.FormatFloat(f, 'f', prec, 64)
}

func render(cfg *config, w *workload, results []*targetResult) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "## Glassbox spool uploader benchmark (tools/uploadbench)\n\n")
	fmt.Fprintf(&b, "%s, %s %s/%s, %d CPUs, host %s. %d capture lines of %d–%d bytes (%.1f MiB) per measurement; "+
		"capture.Spool with an asynchronous policy, %d MiB segments (one object per segment), default fsync interval; "+
		"raw Put: the same bytes in %d MiB objects, sequential. Median of %d reps; MB = 10^6 bytes.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), host,
		len(w.exchanges), w.minLine, w.maxLine, float64(w.bytes)/(1<<20), segmentBytes>>20, segmentBytes>>20, cfg.reps)

	b.WriteString("| target | spool+uploader MB/s | raw Put MB/s | ratio |\n|---|---:|---:|---:|\n")
	spoolRate := map[string]float64{}
	rawRate := map[string]float64{}
	for _, r := range results {
		if r.skipped != "" {
			fmt.Fprintf(&b, "| %s (%s) | %s | | |\n", r.name, r.desc, r.skipped)
			continue
		}
		var ratios []float64
		for i := range min(len(r.spool), len(r.raw)) {
			ratios = append(ratios, r.spool[i].mbps()/r.raw[i].mbps())
		}
		spoolRate[r.name] = medianOf(r.spool, sample.mbps)
		rawRate[r.name] = medianOf(r.raw, sample.mbps)
		fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s |\n", r.name, r.desc,
			fmtF(spoolRate[r.name], 1), fmtF(rawRate[r.name], 1), fmtF(benchfmt.Median(ratios), 2))
	}
	b.WriteString("\nratio = spool+uploader / raw Put (median of per-rep ratios).")
	if sf, ok := spoolRate[targetFile]; ok {
		if ss, ok := spoolRate[targetS3]; ok {
			fmt.Fprintf(&b, " moto / local: spool+uploader %s, raw Put %s.",
				fmtF(ss/sf, 2), fmtF(rawRate[targetS3]/rawRate[targetFile], 2))
		} else {
			b.WriteString(" moto / local: n/a (s3 not measured).")
		}
	}
	b.WriteString("\n\n")

	b.WriteString("Breakdown (medians). spool+uploader is the row above; \"writer done\" is when every record was in the spool " +
		"(glassbox_capture_records_written_total), \"Put busy\" the sum of glassbox_upload_duration_seconds (the uploader's time " +
		"inside bucket.Put; the rest is scanning and deleting segments). \"uploader alone\": the same, but the uploader's Puts " +
		"are held until the writer is done, and the clock starts then (no writer competing for CPU and disk). CPU in cores: " +
		"this process (writer, uploader, SDK) and moto_server.\n\n")
	b.WriteString("| target | measurement | MB/s | vs raw Put | objects | time | writer done | Put busy | MB/s during Put | CPU this process | CPU moto |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	dur := func(f float64) string {
		if math.IsNaN(f) {
			return "n/a"
		}
		return time.Duration(f * float64(time.Second)).Round(10 * time.Millisecond).String()
	}
	for _, r := range results {
		if r.skipped != "" {
			continue
		}
		for _, m := range []struct {
			name string
			ss   []sample
		}{{"spool+uploader", r.spool}, {"uploader alone", r.upload}, {"raw Put", r.raw}} {
			written, busy, busyRate, vsRaw := "—", "—", "—", "—"
			if m.name == "spool+uploader" {
				written = dur(medianOf(m.ss, func(s sample) float64 { return s.written.Seconds() }))
				busy = dur(medianOf(m.ss, func(s sample) float64 { return s.putBusy.Seconds() }))
				busyRate = fmtF(medianOf(m.ss, func(s sample) float64 { return float64(s.bytes) / 1e6 / s.putBusy.Seconds() }), 1)
			}
			if m.name != "raw Put" {
				var ratios []float64
				for i := range min(len(m.ss), len(r.raw)) {
					ratios = append(ratios, m.ss[i].mbps()/r.raw[i].mbps())
				}
				vsRaw = fmtF(benchfmt.Median(ratios), 2)
			}
			motoCPU := "—"
			if r.name == targetS3 {
				motoCPU = fmtF(medianOf(m.ss, func(s sample) float64 { return cores(s.motoCPU, s.elapsed) }), 2)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, m.name,
				fmtF(medianOf(m.ss, sample.mbps), 1), vsRaw,
				fmtF(medianOf(m.ss, func(s sample) float64 { return float64(s.objects) }), 0),
				dur(medianOf(m.ss, func(s sample) float64 { return s.elapsed.Seconds() })),
				written, busy, busyRate,
				fmtF(medianOf(m.ss, func(s sample) float64 { return cores(s.ownCPU, s.elapsed) }), 2), motoCPU)
		}
	}
	var other []float64
	for _, r := range results {
		for _, s := range slices.Concat(r.spool, r.upload, r.raw) {
			other = append(other, s.other)
		}
	}
	if len(other) > 0 {
		mx := slices.MaxFunc(other, func(a, b float64) int {
			switch {
			case math.IsNaN(a):
				return -1
			case math.IsNaN(b):
				return 1
			}
			return cmp.Compare(a, b)
		})
		fmt.Fprintf(&b, "\nOther processes' CPU during the measurements (noise indicator, tick-sampled): median %s, max %s cores.",
			fmtF(benchfmt.Median(other), 2), fmtF(mx, 2))
		if mx > 0.2 {
			b.WriteString(" **WARNING: the machine was not idle during some measurements; numbers may be skewed.**")
		}
		b.WriteString("\n")
	}
	b.WriteString("\nSpool counts reconciled in every run: every record written and uploaded, none dropped, " +
		"glassbox_spool_records 0 after Close, and the store's objects hold exactly the lines' bytes.\n")
	return b.String()
}

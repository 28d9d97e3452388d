// Command protectbench measures what encryption at rest costs the readers
// of captures: reading encrypted capture objects (decrypt+read) against
// reading the same objects stored plain, from a file bucket, in one run.
//
// It writes capture objects of realistic JSON Lines records (about 1.1 KB
// a line, redacted JSON input and output) twice into a temporary folder:
// plain, with objstore/file's Put, and encrypted, with
// capture.NewEncryptingBucket over a local keyring (keys.OpenKeyring), as
// glassbox serve stores an endpoint with capture.encrypt. Objects come in
// two sizes, ~1 MiB and ~8 MiB (-objects-1m / -objects-8m of each). Then, on
// one core (GOMAXPROCS 1 unless -procs), it reads every object of a set
// through the same reader glassbox's commands use
// (capture.NewEncryptingBucket over the file bucket: plain objects pass
// through a bufio.Reader, encrypted ones are decrypted and authenticated),
// six ways per repetition, interleaved, in an order that alternates between
// repetitions:
//
//	plain-raw      file bucket Get + io.Copy to io.Discard (no wrapper)
//	plain          the plain objects through the reader
//	decrypt        the encrypted objects through the reader
//	plain+decode   plain, and every line decoded with capture.DecodeRecordInto
//	decrypt+decode decrypt, and every line decoded
//
// for each object size. Each sample reads the set enough times to move at
// least -sample-bytes of plaintext. MB/s counts plaintext bytes (1 MB =
// 10^6 bytes); CPU time is this process's (getrusage). Ratios are the
// median of the per-repetition ratios decrypt/plain.
//
// Usage:
//
//	go run ./tools/protectbench                # 128 × 1 MiB + 16 × 8 MiB, 5 reps
//	go run ./tools/protectbench -quick         # CI smoke: smaller sets, 1 rep
//	go run ./tools/protectbench -out report.md
//
// It exits 0 when the run completed, non-zero on any read error or when a
// read returned other bytes than were written.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
	"github.com/glassbox-dev/glassbox/tools/internal/benchfmt"
	"github.com/glassbox-dev/glassbox/tools/internal/cpustat"
)

// Modes, in the order of an even repetition (odd ones run them reversed).
const (
	modePlainRaw      = "plain-raw"
	modePlain         = "plain"
	modeDecrypt       = "decrypt"
	modePlainDecode   = "plain+decode"
	modeDecryptDecode = "decrypt+decode"
)

var modes = []string{modePlainRaw, modePlain, modeDecrypt, modePlainDecode, modeDecryptDecode}

type config struct {
	objects1M, objects8M int
	reps                 int
	sampleBytes          int64
	procs                int
	dir, out             string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "protectbench:", err)
		os.Exit(1)
	}
}

func parseFlags() (*config, error) {
	var (
		cfg    config
		quick  bool
		sample string
	)
	flag.IntVar(&cfg.objects1M, "objects-1m", 128, "number of ~1 MiB objects")
	flag.IntVar(&cfg.objects8M, "objects-8m", 16, "number of ~8 MiB objects")
	flag.IntVar(&cfg.reps, "reps", 5, "repetitions; medians over them")
	flag.StringVar(&sample, "sample-bytes", "512MiB", "plaintext bytes each sample reads at least (the set is reread)")
	flag.IntVar(&cfg.procs, "procs", 1, "GOMAXPROCS while measuring (1: MB/s per core)")
	flag.StringVar(&cfg.dir, "dir", "", "folder for the temporary buckets (default: the system's)")
	flag.StringVar(&cfg.out, "out", "", "also write the markdown report to this file")
	flag.BoolVar(&quick, "quick", false, "CI smoke: 16 × 1 MiB + 2 × 8 MiB, 1 rep, 32 MiB samples")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	n, err := parseBytes(sample)
	if err != nil {
		return nil, fmt.Errorf("-sample-bytes: %w", err)
	}
	cfg.sampleBytes = n
	if quick {
		cfg.objects1M, cfg.objects8M, cfg.reps, cfg.sampleBytes = 16, 2, 1, 32<<20
	}
	if cfg.objects1M < 0 || cfg.objects8M < 0 || cfg.objects1M+cfg.objects8M == 0 || cfg.reps <= 0 || cfg.procs <= 0 {
		return nil, errors.New("need some objects, -reps and -procs positive")
	}
	return &cfg, nil
}

// parseBytes reads "512MiB", "64KiB", "1GiB" or a plain number of bytes.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for suf, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suf) {
			s, mult = strings.TrimSuffix(s, suf), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive size", s)
	}
	return n * mult, nil
}

// set is one object size: the same objects stored plain and encrypted.
type set struct {
	name       string
	prefix     string // key prefix of its objects
	objects    int
	plainBytes int64  // plaintext bytes of all objects
	storedEnc  int64  // stored bytes of the encrypted objects
	lines      int64  // records in all objects
	crc        uint32 // CRC-32 of the objects' plaintext, in key order
	samples    map[string][]sample
}

// sample is one measurement of one mode: passes over the set.
type sample struct {
	bytes int64
	wall  time.Duration
	cpu   time.Duration
}

func (s sample) mbps() float64     { return float64(s.bytes) / 1e6 / s.wall.Seconds() }
func (s sample) mbpcpu() float64   { return float64(s.bytes) / 1e6 / s.cpu.Seconds() }
func (s sample) cpuPerMB() float64 { return s.cpu.Seconds() * 1e3 / (float64(s.bytes) / 1e6) } // ms/MB

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(cfg.dir, "protectbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	kr, err := keys.OpenKeyring(filepath.Join(dir, "keys", "keyring.json"), keys.KeyringOptions{Create: true})
	if err != nil {
		return err
	}
	plainFB, err := file.New(filepath.Join(dir, "plain"))
	if err != nil {
		return err
	}
	encFB, err := file.New(filepath.Join(dir, "encrypted"))
	if err != nil {
		return err
	}
	writer := capture.NewEncryptingBucket(encFB, kr, func(string) bool { return true })
	// What glassbox's commands read through (wrapReader in cmd/glassbox).
	plainReader := capture.NewEncryptingBucket(plainFB, kr, nil)
	encReader := capture.NewEncryptingBucket(encFB, kr, nil)

	var sets []*set
	gen := newGenerator()
	for _, s := range []struct {
		name string
		size int
		n    int
	}{{"~1 MiB", 1 << 20, cfg.objects1M}, {"~8 MiB", 8 << 20, cfg.objects8M}} {
		if s.n == 0 {
			continue
		}
		st := &set{name: s.name, prefix: fmt.Sprintf("bench/v1/%dm/", s.size>>20), objects: s.n, samples: map[string][]sample{}}
		t0 := time.Now()
		for i := range s.n {
			obj, lines := gen.object(s.size)
			key := fmt.Sprintf("%s%05d.jsonl", st.prefix, i)
			if err := plainFB.Put(ctx, key, bytes.NewReader(obj)); err != nil {
				return err
			}
			if err := writer.Put(ctx, key, bytes.NewReader(obj)); err != nil {
				return err
			}
			st.plainBytes += int64(len(obj))
			st.lines += int64(lines)
			st.crc = crc32.Update(st.crc, crc32.IEEETable, obj)
		}
		if err := encFB.List(ctx, st.prefix, func(oi objstore.ObjectInfo) error {
			st.storedEnc += oi.Size
			return nil
		}); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "protectbench: wrote %d %s objects (%.1f MB plain, %.1f MB encrypted) in %v\n",
			s.n, s.name, float64(st.plainBytes)/1e6, float64(st.storedEnc)/1e6, time.Since(t0).Round(time.Millisecond))
		sets = append(sets, st)
	}

	// Warm the page cache and check every reader returns the bytes written.
	for _, st := range sets {
		for _, m := range modes {
			if _, err := readSet(ctx, m, st, plainFB, encFB, plainReader, encReader, true); err != nil {
				return fmt.Errorf("check %s %s: %w", st.name, m, err)
			}
		}
	}

	prev := runtime.GOMAXPROCS(cfg.procs)
	defer runtime.GOMAXPROCS(prev)
	var other []float64
	n, total := 0, cfg.reps*len(sets)*len(modes)
	for rep := range cfg.reps {
		order := slices.Clone(modes)
		if rep%2 == 1 {
			slices.Reverse(order)
		}
		for _, st := range sets {
			for _, m := range order {
				n++
				runtime.GC()
				var sm sample
				busy0 := cpustat.MachineBusy()
				cpu0, t0 := cpustat.Process(), time.Now()
				for sm.bytes < cfg.sampleBytes {
					b, err := readSet(ctx, m, st, plainFB, encFB, plainReader, encReader, false)
					if err != nil {
						return fmt.Errorf("%s %s: %w", st.name, m, err)
					}
					sm.bytes += b
				}
				sm.wall, sm.cpu = time.Since(t0), cpustat.Process()-cpu0
				o := math.NaN()
				if busy0 >= 0 {
					o = float64(cpustat.MachineBusy()-busy0-sm.cpu) / float64(sm.wall)
					other = append(other, o)
				}
				st.samples[m] = append(st.samples[m], sm)
				fmt.Fprintf(os.Stderr, "[%d/%d] rep %d %-7s %-15s %8.1f MB/s  %8.1f MB/CPU-s  other procs %s%% of a core\n",
					n, total, rep+1, st.name, m, sm.mbps(), sm.mbpcpu(), benchfmt.Float(100*o, 0))
			}
		}
	}
	runtime.GOMAXPROCS(prev)

	report := renderReport(cfg, sets, other)
	fmt.Print(report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "protectbench: report written to", cfg.out)
	}
	return nil
}

// readSet reads every object of st once in mode m and returns the plaintext
// bytes read. With check it also verifies the bytes (CRC over the set) and
// the line count.
func readSet(ctx context.Context, m string, st *set, plainFB, encFB *file.Bucket, plainReader, encReader objstore.Bucket, check bool) (int64, error) {
	var b objstore.Bucket
	decode := false
	switch m {
	case modePlainRaw:
		b = plainFB
	case modePlain:
		b = plainReader
	case modeDecrypt:
		b = encReader
	case modePlainDecode:
		b, decode = plainReader, true
	case modeDecryptDecode:
		b, decode = encReader, true
	}
	var keys []string
	if err := b.List(ctx, st.prefix, func(oi objstore.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	}); err != nil {
		return 0, err
	}
	slices.Sort(keys)
	if len(keys) != st.objects {
		return 0, fmt.Errorf("listed %d objects, want %d", len(keys), st.objects)
	}
	var (
		total, lines int64
		crc          uint32
		rec          capture.Record
	)
	for _, k := range keys {
		rc, err := b.Get(ctx, k)
		if err != nil {
			return 0, err
		}
		var r io.Reader = rc
		if check {
			r = io.TeeReader(rc, crcWriter{&crc})
		}
		var n int64
		if decode {
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), 16<<20)
			for sc.Scan() {
				line := sc.Bytes()
				n += int64(len(line)) + 1
				lines++
				if err := capture.DecodeRecordInto(line, &rec); err != nil {
					_ = rc.Close()
					return 0, fmt.Errorf("%s: %w", k, err)
				}
			}
			err = sc.Err()
		} else {
			n, err = io.Copy(io.Discard, r)
		}
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", k, err)
		}
		total += n
	}
	if total != st.plainBytes {
		return 0, fmt.Errorf("read %d bytes, want %d", total, st.plainBytes)
	}
	if check && crc != st.crc {
		return 0, errors.New("bytes read differ from the bytes written")
	}
	if decode && lines != st.lines {
		return 0, fmt.Errorf("decoded %d lines, want %d", lines, st.lines)
	}
	return total, nil
}

type crcWriter struct{ crc *uint32 }

func (w crcWriter) Write(p []byte) (int, error) {
	*w.crc = crc32.Update(*w.crc, crc32.IEEETable, p)
	return len(p), nil
}

// ---------------------------------------------------------------------------
// Capture lines

// generator makes capture lines like those of an endpoint whose requests
// were redacted (an e-mail hash token, a masked card) and whose answers are
// small JSON scores.
type generator struct {
	i   int
	buf bytes.Buffer
}

func newGenerator() *generator { return &generator{} }

// object returns capture lines of about size bytes, and their count.
func (g *generator) object(size int) ([]byte, int) {
	g.buf.Reset()
	lines := 0
	for g.buf.Len() < size-1200 || lines == 0 {
		g.i++
		i := g.i
		t := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
		in := fmt.Sprintf(`{"instances":[{"features":[%d.25,1.5,-3.75,%d,0.001,7.5,12.125,-0.5,%d.75,0.33,0.91,0.05],`+
			`"email":"<email:%016x>","card":"************%04d","zip":"627%02d","segment":"retail-%d","channel":"web",`+
			`"id":"req-%08d","ts":"%s"}]}`,
			i%97, i%1000, i%13, uint64(i)*0x9e3779b97f4a7c15, i%10000, i%100, i%7, i, t.Format(time.RFC3339Nano))
		out := fmt.Sprintf(`{"predictions":[{"score":0.%06d,"label":%d,"model":"m1","version":"2024-01-01"}]}`, (i*7919)%1000000, i%2)
		rec := capture.Record{
			CaptureData: capture.CaptureData{
				EndpointInput:  &capture.Payload{ObservedContentType: "application/json", Mode: capture.ModeInput, Data: in, Encoding: capture.EncodingJSON},
				EndpointOutput: &capture.Payload{ObservedContentType: "application/json", Mode: capture.ModeOutput, Data: out, Encoding: capture.EncodingJSON},
			},
			EventMetadata: capture.EventMetadata{EventID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), InferenceTime: t.Format(capture.InferenceTimeLayout)},
			EventVersion:  "0",
			Glassbox: &capture.Extra{Endpoint: "bench", Variant: "v1", Time: t.Format(time.RFC3339Nano), Status: 200, LatencyMicros: 312,
				InputBytes: int64(len(in)) + 10, OutputBytes: int64(len(out)), Redactions: []string{"email:hash", "payment_card:mask"}},
		}
		if err := capture.AppendRecord(&g.buf, &rec); err != nil {
			panic(err) // the record is well-formed
		}
		lines++
	}
	return bytes.Clone(g.buf.Bytes()), lines
}

// ---------------------------------------------------------------------------
// Report

// med is the median of f over a mode's samples.
func med(ss []sample, f func(sample) float64) float64 {
	var xs []float64
	for _, s := range ss {
		xs = append(xs, f(s))
	}
	return benchfmt.Median(xs)
}

// pairedRatio is the median over repetitions of f(x)/f(y), x and y the
// samples of one repetition.
func pairedRatio(st *set, x, y string, f func(sample) float64) float64 {
	var rs []float64
	xs, ys := st.samples[x], st.samples[y]
	for i := 0; i < len(xs) && i < len(ys); i++ {
		rs = append(rs, f(xs[i])/f(ys[i]))
	}
	return benchfmt.Median(rs)
}

func renderReport(cfg *config, sets []*set, other []float64) string {
	var b strings.Builder
	host, _ := os.Hostname()
	load := "n/a"
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(la))
		load = strings.Join(f[:min(3, len(f))], " ")
	}
	fmt.Fprintf(&b, "## Capture objects: decrypt+read vs plain read (tools/protectbench)\n\n")
	fmt.Fprintf(&b, "%s, %s %s/%s, %d CPUs, GOMAXPROCS %d while measuring, host %s, load average at the end %s. "+
		"Objects in objstore/file (page cache), read through capture.NewEncryptingBucket as glassbox's commands read them; "+
		"each sample rereads the set until ≥ %d MiB of plaintext; median of %d reps, modes interleaved (order reversed every other rep). "+
		"MB = 10^6 bytes of plaintext.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cfg.procs,
		host, load, cfg.sampleBytes>>20, cfg.reps)
	if len(other) > 0 {
		fmt.Fprintf(&b, "Other processes' CPU during the samples (noise indicator): median %.0f%%, max %.0f%% of one core.",
			100*benchfmt.Median(other), 100*slices.Max(other))
		if slices.Max(other) > 0.2 {
			b.WriteString(" **The machine was not idle; wall-clock MB/s is skewed, MB per CPU-second less so.**")
		}
		b.WriteString("\n\n")
	}
	for _, st := range sets {
		fmt.Fprintf(&b, "- %s: %d objects, %.1f MB plaintext (%d lines, %.0f bytes/line), %.1f MB stored encrypted (+%.3f%%)\n",
			st.name, st.objects, float64(st.plainBytes)/1e6, st.lines, float64(st.plainBytes)/float64(st.lines),
			float64(st.storedEnc)/1e6, 100*(float64(st.storedEnc)/float64(st.plainBytes)-1))
	}
	b.WriteString("\n| objects | mode | MB/s | MB per CPU-s | CPU ms/MB | spread MB/s |\n|---|---|---:|---:|---:|---:|\n")
	for _, st := range sets {
		for _, m := range modes {
			ss := st.samples[m]
			rates := make([]float64, len(ss))
			for i, s := range ss {
				rates[i] = s.mbps()
			}
			mr := benchfmt.Median(rates)
			spread := (slices.Max(rates) - slices.Min(rates)) / mr
			fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %.3f | %.0f%% |\n", st.name, m, mr,
				med(ss, sample.mbpcpu), med(ss, sample.cpuPerMB), 100*spread)
		}
	}
	b.WriteString("\n| objects | ratio (median of per-rep ratios) | MB/s | MB per CPU-s |\n|---|---|---:|---:|\n")
	for _, st := range sets {
		for _, p := range [][2]string{{modeDecrypt, modePlain}, {modeDecrypt, modePlainRaw}, {modeDecryptDecode, modePlainDecode}} {
			fmt.Fprintf(&b, "| %s | %s / %s | %.2f | %.2f |\n", st.name, p[0], p[1],
				pairedRatio(st, p[0], p[1], sample.mbps), pairedRatio(st, p[0], p[1], sample.mbpcpu))
		}
	}
	b.WriteString("\nplain-raw: objstore/file Get + io.Copy; plain: the same objects through the reader wrapper " +
		"(64 KiB bufio.Reader, as every capture reader opens objects); decrypt: the encrypted copies through it " +
		"(header, data-key unwrap with the keyring, AES-256-GCM chunks of 64 KiB authenticated before use); " +
		"+decode: each line also parsed with capture.DecodeRecordInto (the monitor's decoder).\n")
	return b.String()
}

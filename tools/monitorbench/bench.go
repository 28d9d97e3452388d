package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/glassbox-dev/glassbox/internal/monitor"
	"github.com/glassbox-dev/glassbox/tools/internal/benchfmt"
	"github.com/glassbox-dev/glassbox/tools/internal/cpustat"
)

// Throughput measurements, in the order they run within a repetition.
const (
	kindFloorA  = "floor A"
	kindFloorAJ = "floor A-json"
	kindFloorB  = "floor B"
	kindMonitor = "monitor"
	kindDuck    = "DuckDB"
)

// measurement is one child process: what it reported about its timed
// section, and what the kernel says about the whole process.
type measurement struct {
	res      childResult
	wall     float64 // whole process, seconds
	cpu      float64 // whole process user+system, seconds
	peak     int64   // peak resident set of the process itself (VmHWM), bytes
	ruMaxRSS int64   // the kernel's ru_maxrss for the child, bytes (see measure)
	other    float64 // CPU of other processes during the run, in cores (NaN: unknown)
}

// rowsPerSec is rows over the timed section's wall time.
func (m measurement) rowsPerSec() float64 { return float64(m.res.Rows) / m.res.Seconds }

// rowsPerCPUSec is rows over the timed section's CPU time (DuckDB: the
// whole process's), which other processes on the machine disturb less.
func (m measurement) rowsPerCPUSec() float64 { return float64(m.res.Rows) / m.res.CPUSeconds }

// memResult is one peak-memory run.
type memResult struct {
	records int
	bytes   int64
	genSecs float64
	m       measurement
}

// baseResult is the baselining measurement.
type baseResult struct {
	rows    int
	bytes   int64
	profile measurement
	duck    *measurement
	duckErr error
}

type bench struct {
	cfg                *config
	exe                string
	began              time.Time
	loadStart, loadEnd string

	src      *source
	baseDir  string // statistics.json and constraints.json of the source
	baseDesc string

	duck      string // duckstats binary; "" when not available
	duckErr   error  // why DuckDB was not measured
	duckBuild time.Duration

	main *tree
	thr  map[string][]measurement
	mem  []memResult
	base *baseResult
}

func (b *bench) run() error {
	cfg := b.cfg
	var err error
	if b.src, err = loadSource(cfg.src); err != nil {
		return err
	}
	if b.src.synthetic {
		logf("WARNING: %s", b.src.desc)
	}
	if err := b.writeBaseline(); err != nil {
		return err
	}

	// Build DuckDB's program while the inputs are generated.
	var duckDone chan struct{}
	defer func() {
		if duckDone != nil {
			<-duckDone // the build writes into the work folder
		}
	}()
	if cfg.duckdb {
		duckDone = make(chan struct{})
		go func() {
			defer close(duckDone)
			b.buildDuck()
		}()
	} else {
		b.duckErr = errors.New("skipped (-duckdb=false)")
	}

	if b.main, err = genTree(filepath.Join(cfg.dir, "capture-"+strconv.Itoa(cfg.n)), b.src, cfg.n); err != nil {
		return err
	}
	jsonl := filepath.Join(cfg.dir, "capture-"+strconv.Itoa(cfg.n)+".jsonl")
	if cfg.duckdb {
		if err := b.main.concat(jsonl); err != nil {
			return fmt.Errorf("concatenate capture objects for DuckDB: %w", err)
		}
		<-duckDone
		if b.duckErr != nil {
			logf("DuckDB: not measured: %v", b.duckErr)
		}
	}

	// 1 and 2: throughput, one core, interleaved repetitions.
	b.thr = map[string][]measurement{}
	root := b.main.root
	n := strconv.Itoa(cfg.n)
	for rep := 1; rep <= cfg.reps; rep++ {
		steps := []struct {
			kind string
			run  func() (measurement, error)
		}{
			{kindFloorA, func() (measurement, error) { return b.runChild(modeFloorDecode, true, "-root", root) }},
			{kindFloorAJ, func() (measurement, error) { return b.runChild(modeFloorJSON, true, "-root", root) }},
			{kindFloorB, func() (measurement, error) { return b.runChild(modeFloorParse, true, "-root", root) }},
			{kindMonitor, func() (measurement, error) {
				args := []string{"-root", root, "-baseline", b.baseDir, "-n", n}
				if cfg.cpuprofile != "" && rep == cfg.reps {
					prof, err := filepath.Abs(cfg.cpuprofile)
					if err != nil {
						return measurement{}, err
					}
					args = append(args, "-cpuprofile", prof)
				}
				return b.runChild(modeMonitor, true, args...)
			}},
		}
		if b.duck != "" {
			steps = append(steps, struct {
				kind string
				run  func() (measurement, error)
			}{kindDuck, func() (measurement, error) { return b.runDuck("capture", jsonl, int64(cfg.n)) }})
		}
		for _, s := range steps {
			m, err := s.run()
			if err != nil {
				if s.kind == kindDuck {
					b.duckErr = fmt.Errorf("run failed: %w", err)
					b.duck = ""
					logf("DuckDB: not measured: %v", b.duckErr)
					delete(b.thr, kindDuck)
					continue
				}
				return fmt.Errorf("%s (rep %d): %w", s.kind, rep, err)
			}
			if m.res.Rows != int64(cfg.n) {
				return fmt.Errorf("%s (rep %d) read %d rows, want %d", s.kind, rep, m.res.Rows, cfg.n)
			}
			b.thr[s.kind] = append(b.thr[s.kind], m)
			logf("[rep %d/%d] %-12s %9.0f rows/s %7.1f MB/s  %6.2fs  cpu %6.2fs  peak rss %s (ru_maxrss %s, self %s)  other procs %s cores",
				rep, cfg.reps, s.kind, m.rowsPerSec(), float64(b.main.bytes)/m.res.Seconds/1e6, m.res.Seconds, m.cpu,
				fmtMiB(m.peak), fmtMiB(m.ruMaxRSS), fmtMiB(m.res.SelfMaxRSS), benchfmt.Float(m.other, 2))
		}
	}
	if !cfg.keep {
		_ = os.Remove(jsonl)
	}

	// 3: peak memory.
	for _, size := range sortedCopy(cfg.memSizes) {
		t := b.main
		generated := false
		if size != cfg.n {
			if t, err = genTree(filepath.Join(cfg.dir, "mem-"+strconv.Itoa(size)), b.src, size); err != nil {
				return err
			}
			generated = true
		}
		logf("peak memory: monitor.Run over %d records (default GOMAXPROCS)", size)
		m, err := b.runChild(modeMonitor, false, "-root", t.root, "-baseline", b.baseDir, "-n", strconv.Itoa(size), "-progress")
		if err != nil {
			return fmt.Errorf("peak memory at %d records: %w", size, err)
		}
		b.mem = append(b.mem, memResult{records: size, bytes: t.bytes, genSecs: t.seconds, m: m})
		logf("  %d records: peak RSS %s, %.1fs, %.0f rows/s, GOMAXPROCS %d", size, fmtMiB(m.peak), m.res.Seconds,
			m.rowsPerSec(), m.res.GOMAXPROCS)
		if generated && !cfg.keep {
			logf("  deleting %s", t.root)
			if err := os.RemoveAll(t.root); err != nil {
				return err
			}
		}
	}

	// 4: baselining a large CSV.
	if cfg.baselineBytes > 0 {
		if err := b.runBaseline(); err != nil {
			return err
		}
	}
	return nil
}

// writeBaseline profiles the source CSV (not timed) and writes its
// statistics.json and suggested constraints.json where the monitor children
// load them with monitor.LoadBaseline.
func (b *bench) writeBaseline() error {
	ctx := context.Background()
	p, err := monitor.ProfileDataset(ctx, bytes.NewReader(b.src.data), monitor.DatasetFormat{Kind: monitor.DatasetCSV, Header: true}, monitor.ProfilerOptions{}, nil)
	if err != nil {
		return fmt.Errorf("profile the source as the baseline: %w", err)
	}
	prof := p.Profile()
	cons := monitor.SuggestConstraints(prof)
	b.baseDir = filepath.Join(b.cfg.dir, "baseline")
	if err := os.MkdirAll(b.baseDir, 0o755); err != nil {
		return err
	}
	for name, v := range map[string]any{monitor.StatisticsFile: &prof.Statistics, monitor.ConstraintsFile: cons} {
		var buf bytes.Buffer
		if err := monitor.WriteJSON(&buf, v); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(b.baseDir, name), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	types := map[string]int{}
	for _, f := range prof.Statistics.Features {
		types[f.InferredType]++
	}
	b.baseDesc = fmt.Sprintf("%d rows, %d features (%d Integral, %d Fractional, %d String)", p.Rows(), len(prof.Statistics.Features),
		types[monitor.TypeIntegral], types[monitor.TypeFractional], types[monitor.TypeString])
	logf("baseline: profiled %s: %s", b.src.desc, b.baseDesc)
	return nil
}

// buildDuck builds bench/duckdb's duckstats with cgo into the work folder.
func (b *bench) buildDuck() {
	t0 := time.Now()
	bin := filepath.Join(b.cfg.dir, "duckstats")
	logf("building %s (cgo) in the background", b.cfg.duckSrc)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = b.cfg.duckSrc
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	b.duckBuild = time.Since(t0)
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if lines := strings.Split(msg, "\n"); len(lines) > 3 {
			msg = strings.Join(lines[len(lines)-3:], " / ")
		}
		b.duckErr = fmt.Errorf("cgo build of %s failed: %v: %s", b.cfg.duckSrc, err, msg)
		return
	}
	b.duck = bin
	logf("  duckstats built in %v", b.duckBuild.Round(100*time.Millisecond))
}

// runBaseline generates the large CSV, profiles it on one core, runs
// DuckDB's full statistics over it at one thread, and deletes it.
func (b *bench) runBaseline() error {
	path := filepath.Join(b.cfg.dir, "baseline.csv")
	rows, size, err := genCSV(path, b.src, b.cfg.baselineBytes)
	if err != nil {
		return err
	}
	br := &baseResult{rows: rows, bytes: size}
	logf("baselining: monitor.ProfileDataset over %d rows (%s), one core", rows, fmtBytes(size))
	m, err := b.runChild(modeProfile, true, "-root", path)
	if err != nil {
		return fmt.Errorf("baselining: %w", err)
	}
	if m.res.Rows != int64(rows) {
		return fmt.Errorf("baselining profiled %d rows, want %d", m.res.Rows, rows)
	}
	br.profile = m
	logf("  %.0f rows/s, %.1f MB/s, %.1fs, rss %s", m.rowsPerSec(), float64(size)/m.res.Seconds/1e6, m.res.Seconds, fmtMiB(m.peak))
	if b.duck != "" {
		logf("baselining: DuckDB full statistics, one thread")
		dm, err := b.runDuck("csv", path, int64(rows))
		if err != nil {
			br.duckErr = fmt.Errorf("run failed: %w", err)
			logf("  DuckDB: not measured: %v", br.duckErr)
		} else {
			br.duck = &dm
			logf("  %.0f rows/s, %.1f MB/s, %.1fs, rss %s", dm.rowsPerSec(), float64(size)/dm.res.Seconds/1e6, dm.res.Seconds, fmtMiB(dm.peak))
		}
	} else {
		br.duckErr = b.duckErr
	}
	b.base = br
	if !b.cfg.keep {
		return os.Remove(path)
	}
	return nil
}

// runChild runs this binary in -child mode and returns its result. oneCore
// sets GOMAXPROCS=1 in the child's environment.
func (b *bench) runChild(mode string, oneCore bool, args ...string) (measurement, error) {
	cmd := exec.Command(b.exe, append([]string{"-child", "-mode", mode}, args...)...)
	return b.measure(cmd, oneCore, func(out []byte, m *measurement) error {
		return json.Unmarshal(out, &m.res)
	})
}

// runDuck runs duckstats at one thread over file and checks its row count.
func (b *bench) runDuck(format, file string, wantRows int64) (measurement, error) {
	cmd := exec.Command(b.duck, "-file", file, "-format", format, "-threads", "1")
	return b.measure(cmd, true, func(out []byte, m *measurement) error {
		var r struct {
			Rows    int64   `json:"rows"`
			Seconds float64 `json:"seconds"`
			Threads int     `json:"threads"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("duckstats output %q: %w", out, err)
		}
		if r.Rows != wantRows || r.Threads != 1 {
			return fmt.Errorf("duckstats counted %d rows at %d threads, want %d at 1", r.Rows, r.Threads, wantRows)
		}
		// duckstats times its query; its CPU is the whole process's.
		m.res = childResult{Rows: r.Rows, Records: r.Rows, Seconds: r.Seconds, CPUSeconds: m.cpu, GOMAXPROCS: 1}
		return nil
	})
}

// measure runs cmd with stderr passed through, then decodes its stdout
// with parse, adding the kernel's view of the process.
//
// Peak memory: the ru_maxrss the kernel reports for a child is not the
// child's own when the parent starts it the way Go does (clone with
// CLONE_VM|CLONE_VFORK): exec records the high-water mark of the memory it
// replaces, which is the parent's, so every child would report at least the
// parent's peak. measure therefore samples the child's VmHWM (the peak of
// its own address space) from /proc/<pid>/status every 20 ms, and Glassbox
// children report their exact VmHWM themselves.
func (b *bench) measure(cmd *exec.Cmd, oneCore bool, parse func([]byte, *measurement) error) (measurement, error) {
	var m measurement
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") {
			env = append(env, kv)
		}
	}
	if oneCore {
		env = append(env, "GOMAXPROCS=1")
	}
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	busy0, t0 := cpustat.MachineBusy(), time.Now()
	if err := cmd.Start(); err != nil {
		return m, err
	}
	var polled atomic.Int64
	stop := make(chan struct{})
	polling := make(chan struct{})
	go func() {
		defer close(polling)
		status := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status"
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			if v := statusHWM(status); v > polled.Load() {
				polled.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	err := cmd.Wait()
	m.wall = time.Since(t0).Seconds()
	busy1 := cpustat.MachineBusy()
	close(stop)
	<-polling
	if err != nil {
		return m, fmt.Errorf("%s: %w", filepath.Base(cmd.Path), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		m.ruMaxRSS = ru.Maxrss << 10 // KiB on Linux
	}
	m.peak = polled.Load()
	m.other = nan
	if busy0 >= 0 && busy1 >= 0 && m.wall > 0 {
		m.other = max(0, ((busy1-busy0).Seconds()-m.cpu)/m.wall)
	}
	if err := parse(bytes.TrimSpace(out.Bytes()), &m); err != nil {
		return m, err
	}
	if m.res.VmHWM > 0 {
		m.peak = max(m.peak, m.res.VmHWM)
	}
	return m, nil
}

// statusHWM reads VmHWM from a /proc/<pid>/status file, in bytes; 0 when
// the process is gone or the line is missing.
func statusHWM(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return parseHWM(b)
}

// parseHWM finds the VmHWM line of a /proc status file, in bytes.
func parseHWM(status []byte) int64 {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kib << 10
		}
	}
	return 0
}

// Command monitorbench measures the monitor's throughput and memory against
// baselines measured in the same run, and writes a markdown report.
//
// In one run it measures, each in a child process (this binary re-executed
// with the hidden -child flag) so that its CPU time and peak memory are its
// own:
//
//  1. Monitoring throughput on one core (GOMAXPROCS=1 in every child): N
//     capture lines (churngen.WriteCaptureTree, the capture object layout in
//     a file bucket) read four ways, interleaved within each repetition:
//     floor A lists and reads every object and decodes each line with
//     capture.DecodeRecordInto, Glassbox's own hand-written decoder; floor
//     A-json does the same with the standard library's encoding/json (v1)
//     Unmarshal into capture.Record, the decoder of the published
//     throughput anchors; floor B does A and splits both CSV payloads into
//     fields and parses each with strconv.ParseFloat; monitor is
//     monitor.Run over the whole window against a baseline profiled from
//     the churn training set (profiled once, not timed). The report gives
//     rows/s, MB/s and CPU seconds of each and the ratios monitor/A (the
//     target's), monitor/A-json and monitor/B (medians of per-repetition
//     ratios).
//  2. DuckDB at one thread over the same lines (bench/duckdb's duckstats,
//     built here with cgo, given the objects concatenated into one JSONL
//     file), in the same repetitions: Glassbox monitor / DuckDB rows/s.
//  3. Peak memory (max RSS) of a child that runs only monitor.Run, for each
//     of -mem-sizes records (default 1M and 10M; 10M lines are about 5 GB
//     on disk, generated, measured and deleted). These children keep the
//     default GOMAXPROCS, as `glassbox monitor run` does.
//  4. Baselining throughput: monitor.ProfileDataset (plus Profile and
//     SuggestConstraints) over a churn-like CSV of -baseline-bytes (default
//     1 GiB), one core, and DuckDB's full statistics of the same file at
//     one thread.
//
// Usage:
//
//	go run ./tools/monitorbench -out docs/bench-monitor-latest.md   # full, several minutes
//	go run ./tools/monitorbench -quick                               # CI smoke, < 60 s
//	go run ./tools/monitorbench -n 200000 -mem-sizes 200000 -duckdb=false -baseline-bytes 64MiB
//
// It exits 0 when every measurement completed, whatever the numbers
// (targets are reported as PASS/MISS), and non-zero when a measurement
// failed or read the wrong number of records. DuckDB failing to build or run
// is reported in the results ("not measured") and does not fail the run.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Targets the report checks.
const (
	// targetFloorRatio: monitor rows/s at least half of "read and decode"
	// with Glassbox's own decoder (floor A).
	targetFloorRatio = 0.5
	// targetDuckRatio: the monitor at least as fast as DuckDB's full
	// statistics at the same thread count.
	targetDuckRatio = 1.0
	// targetPeakRSS: peak memory of a monitoring run, whatever its size.
	targetPeakRSS = 256 << 20
	// targetFlatRSS is what "flat" means here: the peak RSS of the largest
	// -mem-sizes run is at most this multiple of the smallest one's.
	targetFlatRSS = 1.5
)

// defaultSource is the churn training set of the shared checkout next to
// the repository, relative to the repository root (where `go run
// ./tools/monitorbench` runs).
const defaultSource = "../shared/datasets/sagemaker-churn/training-dataset-with-header.csv"

type config struct {
	n             int
	memSizes      []int
	baselineBytes int64
	reps          int
	duckdb        bool
	quick         bool
	dir           string
	keep          bool
	out           string
	src           string
	duckSrc       string
	cpuprofile    string
	args          []string // the command line, for the report
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-child" || os.Args[1] == "--child") {
		os.Exit(childMain(os.Args[2:]))
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "monitorbench:", err)
		os.Exit(1)
	}
}

func parseFlags() (*config, error) {
	cfg := config{args: os.Args[1:]}
	var memSizes, baselineBytes string
	flag.IntVar(&cfg.n, "n", 1_000_000, "capture lines for the throughput measurements (-quick: 50,000)")
	flag.StringVar(&memSizes, "mem-sizes", "1000000,10000000", "comma-separated record counts whose peak memory is measured (-quick: 50000,200000)")
	flag.StringVar(&baselineBytes, "baseline-bytes", "1GiB", "size of the CSV the baselining measurement profiles, in bytes or with KiB/MiB/GiB (-quick: 16MiB)")
	flag.IntVar(&cfg.reps, "reps", 3, "repetitions of the throughput measurements, interleaved; the report gives medians (-quick: 1)")
	flag.BoolVar(&cfg.duckdb, "duckdb", true, "build bench/duckdb and measure DuckDB too (-quick: false)")
	flag.BoolVar(&cfg.quick, "quick", false, "CI smoke run: -n 50000 -mem-sizes 50000,200000 -baseline-bytes 16MiB -reps 1 -duckdb=false (flags given explicitly win)")
	flag.StringVar(&cfg.dir, "dir", "", "create the work folder for the generated inputs inside this folder (default: the system temp folder); the work folder is removed at the end unless -keep")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work folder")
	flag.StringVar(&cfg.out, "out", "", "also write the markdown report to this file")
	flag.StringVar(&cfg.src, "src", defaultSource, "churn training CSV the inputs are generated from; when absent, a synthetic 70-column source is used and the report says so")
	flag.StringVar(&cfg.duckSrc, "duckdb-src", "bench/duckdb", "folder of the duckstats Go module")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the last throughput repetition's monitor.Run to this file")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.quick {
		if !set["n"] {
			cfg.n = 50_000
		}
		if !set["mem-sizes"] {
			memSizes = "50000,200000"
		}
		if !set["baseline-bytes"] {
			baselineBytes = "16MiB"
		}
		if !set["reps"] {
			cfg.reps = 1
		}
		if !set["duckdb"] {
			cfg.duckdb = false
		}
	}
	if cfg.n <= 0 || cfg.reps <= 0 {
		return nil, errors.New("-n and -reps must be positive")
	}
	for _, s := range strings.Split(memSizes, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("-mem-sizes: %q is not a positive integer", s)
		}
		cfg.memSizes = append(cfg.memSizes, v)
	}
	b, err := parseBytes(baselineBytes)
	if err != nil {
		return nil, fmt.Errorf("-baseline-bytes: %w", err)
	}
	cfg.baselineBytes = b
	return &cfg, nil
}

// parseBytes reads "1073741824", "1GiB", "512MiB", "64KiB" or "0" (skip).
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return int64(v * float64(mult)), nil
}

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable for the child processes: %w", err)
	}
	// A fresh folder, so that removing it at the end never touches
	// anything else.
	if cfg.dir != "" {
		if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
			return err
		}
	}
	if cfg.dir, err = os.MkdirTemp(cfg.dir, "monitorbench-"); err != nil {
		return err
	}
	if cfg.dir, err = filepath.Abs(cfg.dir); err != nil {
		return err
	}
	if !cfg.keep {
		defer os.RemoveAll(cfg.dir)
	}
	began := time.Now()
	b := &bench{cfg: cfg, exe: exe, began: began, loadStart: loadAvg()}
	logf("monitorbench: work folder %s (%s); %d lines, %d reps, memory at %v records, baseline CSV %s, DuckDB %v",
		cfg.dir, map[bool]string{true: "kept", false: "removed at the end"}[cfg.keep], cfg.n, cfg.reps, cfg.memSizes,
		fmtBytes(cfg.baselineBytes), cfg.duckdb)
	if err := b.run(); err != nil {
		return err
	}
	b.loadEnd = loadAvg()
	report := b.render()
	fmt.Print(report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			return err
		}
		logf("monitorbench: report written to %s", cfg.out)
	}
	logf("monitorbench: done in %v", time.Since(began).Round(time.Second))
	return nil
}

// logf prints progress to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

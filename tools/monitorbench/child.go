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
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/monitor"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
	"github.com/glassbox-dev/glassbox/tools/internal/churngen"
	"github.com/glassbox-dev/glassbox/tools/internal/cpustat"
)

// Child modes: what one child process measures.
const (
	modeFloorDecode = "floor-decode" // floor A
	modeFloorJSON   = "floor-json"   // floor A-json
	modeFloorParse  = "floor-parse"  // floor B
	modeMonitor     = "monitor"      // monitor.Run over the window
	modeProfile     = "profile"      // monitor.ProfileDataset over a CSV
)

// Capture tree layout shared by the generator and the readers.
const (
	endpoint = "churn"
	variant  = "AllTraffic"
)

// childResult is the one JSON line a child prints on stdout. Seconds and
// CPUSeconds cover the timed section only (not start-up, not loading the
// baseline).
type childResult struct {
	Rows       int64   `json:"rows"`    // rows analysed (lines for the floors)
	Records    int64   `json:"records"` // capture records read (monitor)
	Skipped    int64   `json:"skipped"`
	Objects    int64   `json:"objects"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	Status     string  `json:"status,omitempty"`
	Violations int     `json:"violations"`
	// Checks lists the violations as "feature: check type".
	Checks   []string `json:"checks,omitempty"`
	Checksum float64  `json:"checksum"` // keeps the floors' parsing from being optimised away
	// VmHWM is the child's own peak resident set (/proc/self/status), in
	// bytes, read when the timed section ends; 0 when unavailable.
	VmHWM int64 `json:"vm_hwm"`
	// SelfMaxRSS is getrusage(RUSAGE_SELF) ru_maxrss in bytes.
	SelfMaxRSS int64 `json:"self_maxrss"`
}

func childMain(args []string) int {
	fs := flag.NewFlagSet("monitorbench -child", flag.ContinueOnError)
	mode := fs.String("mode", "", "floor-decode | floor-json | floor-parse | monitor | profile")
	root := fs.String("root", "", "capture bucket root (floors, monitor) or CSV file (profile)")
	baseline := fs.String("baseline", "", "folder holding statistics.json and constraints.json (monitor)")
	n := fs.Int("n", 0, "capture lines in the tree (monitor: sets the window)")
	progress := fs.Bool("progress", false, "print progress to stderr (monitor)")
	cpuprofile := fs.String("cpuprofile", "", "CPU profile of the timed section")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	res, err := childRun(*mode, *root, *baseline, *n, *progress, *cpuprofile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "monitorbench child %s: %v\n", *mode, err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintf(os.Stderr, "monitorbench child %s: %v\n", *mode, err)
		return 1
	}
	return 0
}

func childRun(mode, root, baseline string, n int, progress bool, cpuprofile string) (*childResult, error) {
	ctx := context.Background()
	var timed func() (*childResult, error)
	switch mode {
	case modeFloorDecode, modeFloorJSON, modeFloorParse:
		bucket, err := file.New(root)
		if err != nil {
			return nil, err
		}
		timed = func() (*childResult, error) { return floor(ctx, bucket, mode == modeFloorJSON, mode == modeFloorParse) }
	case modeMonitor:
		bucket, err := file.New(root)
		if err != nil {
			return nil, err
		}
		baseBucket, err := file.New(baseline)
		if err != nil {
			return nil, err
		}
		stats, cons, err := monitor.LoadBaseline(ctx, baseBucket, "")
		if err != nil {
			return nil, fmt.Errorf("load baseline: %w", err)
		}
		timed = func() (*childResult, error) { return monitorRun(ctx, bucket, stats, cons, n, progress) }
	case modeProfile:
		f, err := os.Open(root)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		timed = func() (*childResult, error) { return profileCSV(ctx, f) }
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}

	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, t0 := cpustat.Process(), time.Now()
	res, err := timed()
	if err != nil {
		return nil, err
	}
	res.Seconds = time.Since(t0).Seconds()
	res.CPUSeconds = (cpustat.Process() - cpu0).Seconds()
	res.GOMAXPROCS = runtime.GOMAXPROCS(0)
	res.VmHWM = vmHWM()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		res.SelfMaxRSS = ru.Maxrss << 10
	}
	return res, nil
}

// floor lists and reads every object of the endpoint variant and decodes
// each line into one reused capture.Record with Glassbox's own decoder,
// capture.DecodeRecordInto (floor A), or, with stdJSON, with the standard
// library's encoding/json (v1) Unmarshal (floor A-json). With parse it also
// splits both payloads at commas and parses every field as a float64
// (floor B, "the parse floor"). It checks nothing else: no key layout, no
// time window, no row assembly.
func floor(ctx context.Context, bucket objstore.Bucket, stdJSON, parse bool) (*childResult, error) {
	res := &childResult{}
	var rec capture.Record
	br := bufio.NewReaderSize(nil, 64<<10)
	var long []byte
	var sum float64
	err := bucket.List(ctx, endpoint+"/"+variant+"/", func(oi objstore.ObjectInfo) error {
		rc, err := bucket.Get(ctx, oi.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		res.Objects++
		br.Reset(rc)
		for {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				long = append(long[:0], line...)
				for errors.Is(err, bufio.ErrBufferFull) {
					line, err = br.ReadSlice('\n')
					long = append(long, line...)
				}
				line = long
			}
			if err != nil && err != io.EOF {
				return fmt.Errorf("read %s: %w", oi.Key, err)
			}
			if len(bytes.TrimSpace(line)) > 0 {
				var derr error
				if stdJSON {
					derr = json.Unmarshal(line, &rec)
				} else {
					derr = capture.DecodeRecordInto(line, &rec)
				}
				if derr != nil {
					return fmt.Errorf("%s: %w", oi.Key, derr)
				}
				res.Rows++
				if parse {
					s, perr := parseFields(rec.CaptureData.EndpointOutput)
					if perr != nil {
						return fmt.Errorf("%s: output: %w", oi.Key, perr)
					}
					sum += s
					if s, perr = parseFields(rec.CaptureData.EndpointInput); perr != nil {
						return fmt.Errorf("%s: input: %w", oi.Key, perr)
					}
					sum += s
				}
			}
			if err == io.EOF {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	res.Records = res.Rows
	res.Checksum = sum
	return res, nil
}

// parseFields splits a CSV payload at commas (no quoting: the churn data
// has none) and parses every field as a float64, returning their sum.
func parseFields(p *capture.Payload) (float64, error) {
	if p == nil {
		return 0, nil
	}
	data := p.Data
	var sum float64
	for len(data) > 0 {
		i := 0
		for i < len(data) && data[i] != ',' {
			i++
		}
		x, err := strconv.ParseFloat(data[:i], 64)
		if err != nil {
			return 0, err
		}
		sum += x
		if i == len(data) {
			break
		}
		data = data[i+1:]
	}
	return sum, nil
}

// window returns the [start, end) window that holds all n lines of a tree
// written with churngen.DefaultTreeOptions.
func window(n int) (time.Time, time.Time) {
	per := churngen.DefaultTreeOptions().PerSecond
	return churngen.Start, churngen.Start.Add(time.Duration(n/per+1) * time.Second)
}

// monitorRun is one monitoring run over the whole tree. It fails unless
// every one of the n lines became a row.
func monitorRun(ctx context.Context, bucket objstore.Bucket, stats *monitor.Statistics, cons *monitor.Constraints, n int, progress bool) (*childResult, error) {
	start, end := window(n)
	opts := monitor.RunOptions{
		Bucket: bucket, Endpoint: endpoint, Variant: variant,
		Start: start, End: end,
		Baseline: stats, Constraints: cons,
	}
	if progress {
		t0 := time.Now()
		var last int64
		opts.Progress = func(done int64) {
			if done-last >= 1_000_000 {
				last = done
				logf("  monitor: %d records, %v", done, time.Since(t0).Round(time.Second))
			}
		}
	}
	res, err := monitor.Run(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("monitor.Run: %w", err)
	}
	out := &childResult{
		Rows: res.Rows, Records: res.Records, Skipped: res.Skipped, Objects: int64(res.Objects),
		Status: res.Status, Violations: len(res.Violations.Violations),
	}
	for _, v := range res.Violations.Violations {
		out.Checks = append(out.Checks, v.FeatureName+": "+v.ConstraintCheckType)
	}
	if res.Records != int64(n) || res.Rows != int64(n) {
		return nil, fmt.Errorf("monitor.Run read %d records and %d rows (%d skipped) from %d objects; want %d each",
			res.Records, res.Rows, res.Skipped, res.Objects, n)
	}
	return out, nil
}

// profileCSV profiles a CSV file with a header the way `glassbox baseline`
// does: ProfileDataset, then the statistics and suggested constraints.
func profileCSV(ctx context.Context, f *os.File) (*childResult, error) {
	p, err := monitor.ProfileDataset(ctx, f, monitor.DatasetFormat{Kind: monitor.DatasetCSV, Header: true}, monitor.ProfilerOptions{}, nil)
	if err != nil {
		return nil, err
	}
	prof := p.Profile()
	cons := monitor.SuggestConstraints(prof)
	return &childResult{Rows: p.Rows(), Records: p.Rows(), Checksum: float64(len(cons.Features))}, nil
}

// vmHWM is this process's peak resident set, in bytes.
func vmHWM() int64 { return statusHWM("/proc/self/status") }

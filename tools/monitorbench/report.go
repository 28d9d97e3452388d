package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/glassbox-dev/glassbox/tools/internal/benchfmt"
	"github.com/glassbox-dev/glassbox/tools/internal/churngen"
)

var nan = math.NaN()

func (b *bench) render() string {
	cfg := b.cfg
	var s strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&s, "## Glassbox monitor benchmark (tools/monitorbench)\n\n")
	fmt.Fprintf(&s, "%s, %s %s/%s, CPU %q, %d CPUs, %s RAM, host %s. Load average (1/5/15 min) %s at the start, %s at the end "+
		"(the machine is shared; the figures include this benchmark). Command: `go run ./tools/monitorbench %s` (%v in all).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuModel(), runtime.NumCPU(),
		memTotal(), host, b.loadStart, b.loadEnd, strings.Join(cfg.args, " "), time.Since(b.began).Round(time.Second))
	opts := churngen.DefaultTreeOptions()
	fmt.Fprintf(&s, "Input: %s lines generated from %s (%d rows × %d columns) by `churngen.WriteCaptureTree` "+
		"(label dropped, 69 features as one text/csv input payload, a 6-decimal score as output; %d lines per object, "+
		"%d lines per second of inferenceTime) into a file bucket: %d objects, %s, %.0f bytes/line, in the page cache. "+
		"Baseline: the source itself profiled with `monitor.ProfileDataset` + `SuggestConstraints` (%s; not timed), "+
		"loaded by each monitor child with `monitor.LoadBaseline`. MB = 10^6 bytes, MiB = 2^20.\n\n",
		fmtInt(int64(cfg.n)), b.src.desc, b.src.rows, b.src.cols, opts.LinesPerObject, opts.PerSecond,
		len(b.main.keys), fmtBytes(b.main.bytes), float64(b.main.bytes)/float64(cfg.n), b.baseDesc)
	if b.src.synthetic {
		s.WriteString("**The source is synthetic** (the shared churn data set was not found): compare these numbers only with each other.\n\n")
	}

	// 1 and 2.
	fmt.Fprintf(&s, "### Throughput on one core\n\n")
	fmt.Fprintf(&s, "Each measurement is a child process with `GOMAXPROCS=1`; DuckDB runs with `SET threads=1`. Seconds are the "+
		"timed section (the floors: everything; monitor: `monitor.Run`, after loading the baseline; DuckDB: its query, as "+
		"`duckstats` reports it). rows/CPU-s divides by the timed section's CPU time (DuckDB: the whole process's, "+
		"about 0.05 s more than its query), which other work on a shared machine disturbs less than wall time. CPU s is the "+
		"whole process's (rusage); peak RSS is the process's own VmHWM (see the note under the tables). \"other procs\" is "+
		"the CPU the rest of the machine used meanwhile, in cores (/proc/stat), a noise indicator. Medians of %d interleaved "+
		"repetitions; the range is the slowest and fastest repetition.\n\n", cfg.reps)
	s.WriteString("- **floor A**: list the objects, read each, `capture.DecodeRecordInto` every line into one reused record. " +
		"This is Glassbox's own hand-written decoder (the one `monitor.Run` uses), several times faster than encoding/json, " +
		"so floor A is a demanding denominator.\n")
	s.WriteString("- **floor A-json**: the same with the standard library's `encoding/json` (v1) `Unmarshal` of every line into one " +
		"reused `capture.Record`: the decoder of the reference anchors (`shared/reference/monitor-throughput-anchors.md`: " +
		"214–252k rows/s there, on another CPU, into a struct of only the two `data` strings; `capture.Record` has every " +
		"field, so it decodes slower). Informational; the target's denominator stays floor A.\n")
	s.WriteString("- **floor B** (the parse floor): A, then split both CSV payloads at commas and `strconv.ParseFloat` every field (70 per line).\n")
	s.WriteString("- **monitor**: `monitor.Run` over the window holding every line (default `RunOptions`: rows assembled output first, " +
		"then input, matched to the baseline by position; statistics, constraint checks and drift).\n")
	s.WriteString("- **DuckDB**: `bench/duckdb` `duckstats -format capture -threads 1` on the same lines concatenated into one JSONL file: " +
		"count, nulls, avg, sum, stddev_pop, min, max, approx_quantile ×9 and approx_count_distinct of 69 features and the score.\n\n")
	s.WriteString("| measurement | rows/s | range rows/s | MB/s | rows/CPU-s | seconds | CPU s | peak RSS | other procs (cores) |\n")
	s.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, kind := range []string{kindFloorA, kindFloorAJ, kindFloorB, kindMonitor, kindDuck} {
		ms := b.thr[kind]
		if len(ms) == 0 {
			fmt.Fprintf(&s, "| %s | not measured: %v | | | | | | | |\n", kind, b.duckErr)
			continue
		}
		rps := collect(ms, func(m measurement) float64 { return m.rowsPerSec() })
		secs := collect(ms, func(m measurement) float64 { return m.res.Seconds })
		fmt.Fprintf(&s, "| %s | %s | %s–%s | %.1f | %s | %.2f | %.2f | %s | %s |\n", kind,
			fmtInt(int64(benchfmt.Median(rps))), fmtInt(int64(slices.Min(rps))), fmtInt(int64(slices.Max(rps))),
			float64(b.main.bytes)/benchfmt.Median(secs)/1e6,
			fmtInt(int64(benchfmt.Median(collect(ms, func(m measurement) float64 { return m.rowsPerCPUSec() })))), benchfmt.Median(secs),
			benchfmt.Median(collect(ms, func(m measurement) float64 { return m.cpu })),
			fmtMiB(int64(benchfmt.Median(collect(ms, func(m measurement) float64 { return float64(m.peak) })))),
			benchfmt.Float(benchfmt.Median(collect(ms, func(m measurement) float64 { return m.other })), 2))
	}
	if mon := b.thr[kindMonitor]; len(mon) > 0 {
		r := mon[len(mon)-1].res
		checks := "none"
		if len(r.Checks) > 0 {
			checks = strings.Join(r.Checks, "; ")
		}
		fmt.Fprintf(&s, "\nEach monitoring run read %s records from %d objects into %s rows (%d skipped); status %s, %d violations (%s). "+
			"The generated output column holds scores in [0,1) where the baseline's first column, the label, holds 0/1, so "+
			"violations on it are expected.\n", fmtInt(r.Records), r.Objects, fmtInt(r.Rows), r.Skipped, r.Status, r.Violations, checks)
	}

	// Checks.
	s.WriteString("\n### Targets\n\n| check | value | target | result |\n|---|---:|---:|---|\n")
	row := func(name, value, target, result string) {
		fmt.Fprintf(&s, "| %s | %s | %s | %s |\n", name, value, target, result)
	}
	// ratio is the median of per-repetition ratios of rows/s, and of
	// rows/CPU-s.
	ratio := func(a, c string) (float64, float64, bool) {
		x, y := b.thr[a], b.thr[c]
		if len(x) == 0 || len(y) == 0 || len(x) != len(y) {
			return nan, nan, false
		}
		var rs, rc []float64
		for i := range x {
			rs = append(rs, x[i].rowsPerSec()/y[i].rowsPerSec())
			rc = append(rc, x[i].rowsPerCPUSec()/y[i].rowsPerCPUSec())
		}
		return benchfmt.Median(rs), benchfmt.Median(rc), true
	}
	both := func(r, c float64) string { return fmt.Sprintf("%.2f (CPU time: %.2f)", r, c) }
	if r, c, ok := ratio(kindMonitor, kindFloorA); ok {
		row("monitor / floor A (read + Glassbox's DecodeRecordInto) rows/s, one core", both(r, c), fmt.Sprintf("≥ %.2f", targetFloorRatio), passMiss(r >= targetFloorRatio))
	}
	if r, c, ok := ratio(kindMonitor, kindFloorAJ); ok {
		row("monitor / floor A-json (read + encoding/json v1 Unmarshal) rows/s, one core", both(r, c), "informational", "—")
	}
	if r, c, ok := ratio(kindMonitor, kindFloorB); ok {
		row("monitor / floor B (read + decode + ParseFloat) rows/s, one core", both(r, c), "informational", "—")
	}
	if r, c, ok := ratio(kindMonitor, kindDuck); ok {
		row("monitor / DuckDB full statistics rows/s, 1 thread each", both(r, c), fmt.Sprintf("≥ %.2f", targetDuckRatio), passMiss(r >= targetDuckRatio))
	} else {
		row("monitor / DuckDB full statistics rows/s, 1 thread each", "not measured", fmt.Sprintf("≥ %.2f", targetDuckRatio), fmt.Sprintf("— (%v)", b.duckErr))
	}
	for _, mr := range b.mem {
		row(fmt.Sprintf("peak RSS of a monitoring run over %s records", fmtInt(int64(mr.records))), fmtMiB(mr.m.peak),
			fmt.Sprintf("< %s", fmtMiB(targetPeakRSS)), passMiss(mr.m.peak < targetPeakRSS))
	}
	if len(b.mem) > 1 {
		lo, hi := b.mem[0], b.mem[len(b.mem)-1]
		g := float64(hi.m.peak) / float64(lo.m.peak)
		row(fmt.Sprintf("peak RSS growth, %s / %s records (flat)", fmtInt(int64(hi.records)), fmtInt(int64(lo.records))),
			fmt.Sprintf("%.2f", g), fmt.Sprintf("≤ %.2f", targetFlatRSS), passMiss(g <= targetFlatRSS))
	}
	if br := b.base; br != nil {
		if br.duck != nil {
			row("baselining (ProfileDataset) / DuckDB full statistics rows/s on the CSV, 1 thread each",
				both(br.profile.rowsPerSec()/br.duck.rowsPerSec(), br.profile.rowsPerCPUSec()/br.duck.rowsPerCPUSec()), "informational", "—")
		} else {
			row("baselining (ProfileDataset) / DuckDB full statistics rows/s on the CSV", "not measured", "informational", fmt.Sprintf("— (%v)", br.duckErr))
		}
	}

	// 3.
	if len(b.mem) > 0 {
		s.WriteString("\n### Peak memory of a monitoring run\n\n")
		s.WriteString("A child process that only loads the baseline and runs `monitor.Run` over every record, with the default " +
			"GOMAXPROCS (as `glassbox monitor run` runs). Each tree was generated, measured and deleted in turn.\n\n")
		s.WriteString("| records | objects' bytes | monitor.Run s | rows/s | MB/s | GOMAXPROCS | CPU s | peak RSS (VmHWM) | ru_maxrss |\n")
		s.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, mr := range b.mem {
			fmt.Fprintf(&s, "| %s | %s | %.2f | %s | %.1f | %d | %.2f | %s | %s |\n", fmtInt(int64(mr.records)), fmtBytes(mr.bytes),
				mr.m.res.Seconds, fmtInt(int64(mr.m.rowsPerSec())), float64(mr.bytes)/mr.m.res.Seconds/1e6, mr.m.res.GOMAXPROCS,
				mr.m.cpu, fmtMiB(mr.m.peak), fmtMiB(mr.m.ruMaxRSS))
		}
	}

	// 4.
	if br := b.base; br != nil {
		s.WriteString("\n### Baselining a large CSV\n\n")
		fmt.Fprintf(&s, "A churn-like CSV from `churngen.WriteCSV` (header + %s rows × %d columns, %s). Glassbox: "+
			"`monitor.ProfileDataset` (CSV with header) + `Profile` + `SuggestConstraints` in a child with `GOMAXPROCS=1`. "+
			"DuckDB: `duckstats -format csv -threads 1` (`read_csv(header=true)`, types auto-detected; the same nine "+
			"statistics per column). One run each.\n\n", fmtInt(int64(br.rows)), b.src.cols, fmtBytes(br.bytes))
		s.WriteString("| tool | rows/s | MB/s | rows/CPU-s | seconds | CPU s | peak RSS | other procs (cores) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		line := func(name string, m *measurement) {
			fmt.Fprintf(&s, "| %s | %s | %.1f | %s | %.2f | %.2f | %s | %s |\n", name, fmtInt(int64(m.rowsPerSec())),
				float64(br.bytes)/m.res.Seconds/1e6, fmtInt(int64(m.rowsPerCPUSec())), m.res.Seconds, m.cpu, fmtMiB(m.peak),
				benchfmt.Float(m.other, 2))
		}
		line("Glassbox ProfileDataset", &br.profile)
		if br.duck != nil {
			line("DuckDB (1 thread)", br.duck)
		} else {
			fmt.Fprintf(&s, "| DuckDB | not measured: %v | | | | | | |\n", br.duckErr)
		}
	}
	fmt.Fprintf(&s, "\nPeak memory is each process's own VmHWM (/proc/<pid>/status: Glassbox children read theirs when the timed "+
		"section ends; DuckDB's is sampled every 20 ms). The kernel's ru_maxrss for these children is not used: Go starts a child "+
		"with clone(CLONE_VM|CLONE_VFORK), and exec then records the high-water mark of the memory it replaces, the parent's, "+
		"so every child's ru_maxrss is at least this benchmark's own peak (%s here).\n", fmtMiB(selfMaxRSS()))
	if b.duck != "" {
		fmt.Fprintf(&s, "\nDuckDB: `bench/duckdb` built with cgo in %v (go-duckdb as pinned in its go.mod).\n", b.duckBuild.Round(100*time.Millisecond))
	}
	return s.String()
}

func collect(ms []measurement, f func(measurement) float64) []float64 {
	out := make([]float64, 0, len(ms))
	for _, m := range ms {
		out = append(out, f(m))
	}
	return out
}

// median of xs ignoring NaNs; NaN when none is left.
func sortedCopy(xs []int) []int {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// fmtInt writes n with thousands separators.
func fmtInt(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func fmtMiB(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// loadAvg is the 1, 5 and 15-minute load average, or "n/a".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	return procField("/proc/cpuinfo", "model name")
}

// memTotal is MemTotal of /proc/meminfo in GiB.
func memTotal() string {
	v := procField("/proc/meminfo", "MemTotal")
	var kib int64
	if _, err := fmt.Sscanf(v, "%d kB", &kib); err != nil {
		return "n/a"
	}
	return fmt.Sprintf("%.0f GiB", float64(kib)/(1<<20))
}

func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "n/a"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}

// selfMaxRSS is this process's ru_maxrss in bytes.
func selfMaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10
}

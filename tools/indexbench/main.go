// Command indexbench measures the capture index of the metadata store
// (internal/store) at scale, on SQLite and on PostgreSQL:
//
//  1. bulk insert: -n entries through DB.IndexCaptures in batches of -batch
//     (one transaction each), reporting the insert rate overall and over the
//     last 10% of the load (to show whether it degrades as indexes grow);
//  2. event-id lookups: -lookups CaptureByEventID calls for random existing
//     ids and -misses for ids that were never indexed, one at a time,
//     reporting p50/p99/max latency;
//  3. time-window pages: -pages ListCaptures calls for one endpoint and a
//     random one-hour window, 100 rows each.
//
// The target is "< 1 s worst case" for an event-id lookup.
//
// Entry i is generated deterministically: its event id is the UUIDv5 of i
// (so lookups regenerate ids instead of storing millions of strings), its
// endpoint is endpoint-(i mod 16), its time t0 + i*10ms. Memory stays
// bounded by one batch.
//
// SQLite runs on a file in a temporary folder (removed at the end unless
// -keep). PostgreSQL runs on -pg DSN if given (used as is: capture_index
// entries from earlier runs are upserted again), or else on a private
// throwaway cluster this command starts with initdb and pg_ctl (Debian
// layout /usr/lib/postgresql/*/bin or PATH; as root, under runuser -u
// postgres) on a free 127.0.0.1 port with PostgreSQL's default settings,
// and stops on exit.
//
// Usage:
//
//	go run ./tools/indexbench                      # 10,000,000 entries
//	go run ./tools/indexbench -quick               # 200,000 entries
//	go run ./tools/indexbench -n 2000000 -dialects sqlite -out index.md
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/store"
)

// Workload shape.
const (
	endpointCount = 16
	timeStep      = 10 * time.Millisecond
	linesPerPart  = 1000
	pageRows      = 100
	windowLength  = time.Hour
	target        = time.Second
)

// config holds the command-line settings.
type config struct {
	n        int
	batch    int
	lookups  int
	misses   int
	pages    int
	dialects []string
	pgDSN    string
	dir      string
	keep     bool
	out      string
	seed     uint64
	cpuprof  string
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "indexbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "indexbench:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line.
func parseFlags() (*config, error) {
	cfg := &config{}
	var quick bool
	var dialects string
	flag.IntVar(&cfg.n, "n", 10_000_000, "entries to index")
	flag.BoolVar(&quick, "quick", false, "smoke run: -n 200000")
	flag.IntVar(&cfg.batch, "batch", 5000, "entries per IndexCaptures call (one transaction)")
	flag.IntVar(&cfg.lookups, "lookups", 10_000, "CaptureByEventID calls for existing ids")
	flag.IntVar(&cfg.misses, "misses", 1_000, "CaptureByEventID calls for ids never indexed")
	flag.IntVar(&cfg.pages, "pages", 1_000, "ListCaptures calls (one endpoint, one-hour window, 100 rows)")
	flag.StringVar(&dialects, "dialects", "sqlite,postgres", "comma-separated: sqlite, postgres")
	flag.StringVar(&cfg.pgDSN, "pg", "", "PostgreSQL DSN to use instead of starting a private cluster")
	flag.StringVar(&cfg.dir, "dir", "", "folder for the SQLite file and the private cluster (default: a new temporary folder)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the SQLite file (glassbox.db in -dir); the private cluster is always removed")
	flag.StringVar(&cfg.out, "out", "", "also write the markdown report to this file")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the random lookups")
	flag.StringVar(&cfg.cpuprof, "cpuprofile", "", "write a CPU profile of this process to this file")
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if quick {
		cfg.n = 200_000
	}
	if cfg.n < 1 || cfg.batch < 1 || cfg.lookups < 1 || cfg.misses < 0 || cfg.pages < 0 {
		return nil, errors.New("-n, -batch and -lookups must be positive, -misses and -pages not negative")
	}
	for _, d := range strings.Split(dialects, ",") {
		switch d = strings.TrimSpace(d); d {
		case store.DialectSQLite, store.DialectPostgres:
			cfg.dialects = append(cfg.dialects, d)
		case "":
		default:
			return nil, fmt.Errorf("-dialects: unknown dialect %q (sqlite, postgres)", d)
		}
	}
	if len(cfg.dialects) == 0 {
		return nil, errors.New("-dialects: none given")
	}
	return cfg, nil
}

// result is what one dialect measured.
type result struct {
	dialect  string
	version  string
	settings string
	inserted int
	insert   time.Duration
	tailRate float64 // entries/s over the last 10% of the load
	size     int64   // bytes on disk (database, or file + WAL)
	hits     []time.Duration
	misses   []time.Duration
	pages    []time.Duration
	pageRows int // rows returned by all pages together
	skipped  string
}

// run benchmarks every dialect and prints the report.
func run(ctx context.Context, cfg *config) error {
	dir := cfg.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "indexbench-")
		if err != nil {
			return err
		}
		dir = d
		if !cfg.keep {
			defer func() { _ = os.RemoveAll(d) }()
		}
	}
	if cfg.cpuprof != "" {
		f, err := os.Create(cfg.cpuprof)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	gen := newGenerator()
	started := time.Now()
	var results []*result
	for _, d := range cfg.dialects {
		var (
			r   *result
			err error
		)
		switch d {
		case store.DialectSQLite:
			path := filepath.Join(dir, "glassbox.db")
			_ = os.Remove(path) // a kept file from an earlier run
			r, err = bench(ctx, cfg, gen, "sqlite://"+path)
			if r != nil {
				r.size = fileSize(path) + fileSize(path+"-wal")
				r.settings = "WAL, synchronous=NORMAL, writer cache 64 MiB"
			}
			if !cfg.keep {
				for _, p := range []string{path, path + "-wal", path + "-shm"} {
					_ = os.Remove(p)
				}
			}
		case store.DialectPostgres:
			dsn, settings := cfg.pgDSN, "as configured (-pg)"
			if dsn == "" {
				cluster, serr := startCluster(ctx, dir)
				if serr != nil {
					results = append(results, &result{dialect: d, skipped: serr.Error()})
					fmt.Fprintf(os.Stderr, "indexbench: postgres skipped: %v\n", serr)
					continue
				}
				defer cluster.stop()
				dsn, settings = cluster.dsn, "private cluster, default settings (shared_buffers 128MB, fsync on)"
			}
			r, err = bench(ctx, cfg, gen, dsn)
			if r != nil {
				r.settings = settings
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		results = append(results, r)
	}
	report := render(cfg, results, time.Since(started))
	fmt.Print(report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.skipped == "" && (slices.Max(r.hits) >= target || (len(r.misses) > 0 && slices.Max(r.misses) >= target)) {
			return fmt.Errorf("%s: worst-case lookup reached %s (target < %s)", r.dialect, target, target)
		}
	}
	return nil
}

// bench loads and queries one database.
func bench(ctx context.Context, cfg *config, gen *generator, url string) (*result, error) {
	db, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	r := &result{dialect: db.Dialect()}
	r.version = serverVersion(ctx, db)
	log := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "indexbench: %s: "+format+"\n", append([]any{r.dialect}, args...)...)
	}

	// 1. Bulk insert.
	log("indexing %d entries in batches of %d", cfg.n, cfg.batch)
	batch := make([]capture.IndexEntry, 0, cfg.batch)
	tailFrom := cfg.n - cfg.n/10
	var tailStart time.Time
	start := time.Now()
	nextReport := cfg.n / 20
	for i := 0; i < cfg.n; {
		if i >= tailFrom && tailStart.IsZero() {
			tailStart = time.Now()
		}
		batch = batch[:0]
		for ; i < cfg.n && len(batch) < cfg.batch; i++ {
			batch = append(batch, gen.entry(i))
		}
		if err := db.IndexCaptures(ctx, batch); err != nil {
			return nil, fmt.Errorf("index entries up to %d: %w", i, err)
		}
		if i >= nextReport && i < cfg.n {
			el := time.Since(start)
			log("%d entries (%.0f%%), %.0f entries/s", i, 100*float64(i)/float64(cfg.n), float64(i)/el.Seconds())
			nextReport += cfg.n / 20
		}
	}
	r.insert = time.Since(start)
	r.inserted = cfg.n
	if !tailStart.IsZero() {
		r.tailRate = float64(cfg.n-tailFrom) / time.Since(tailStart).Seconds()
	}
	log("indexed %d entries in %s (%.0f entries/s)", cfg.n, r.insert.Round(time.Millisecond), float64(cfg.n)/r.insert.Seconds())
	if db.Dialect() == store.DialectPostgres {
		// Autovacuum would get there eventually; a benchmark should not
		// measure the planner without statistics.
		if _, err := db.SQLDB().ExecContext(ctx, "ANALYZE capture_index"); err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
		if err := db.SQLDB().QueryRowContext(ctx, "SELECT pg_database_size(current_database())").Scan(&r.size); err != nil {
			return nil, fmt.Errorf("database size: %w", err)
		}
	}

	// 2. Event-id lookups, hits and misses.
	rng := rand.New(rand.NewPCG(cfg.seed, 0x9e3779b97f4a7c15))
	log("%d lookups of existing ids, %d of missing ids", cfg.lookups, cfg.misses)
	r.hits = make([]time.Duration, 0, cfg.lookups)
	for range cfg.lookups {
		i := rng.IntN(cfg.n)
		id := gen.eventID(i)
		t0 := time.Now()
		e, err := db.CaptureByEventID(ctx, id)
		r.hits = append(r.hits, time.Since(t0))
		if err != nil {
			return nil, fmt.Errorf("look up entry %d: %w", i, err)
		}
		if e.EventID != id || e.Line != i%linesPerPart+1 {
			return nil, fmt.Errorf("look up entry %d: got %+v", i, e)
		}
	}
	r.misses = make([]time.Duration, 0, cfg.misses)
	for j := range cfg.misses {
		id := gen.eventID(cfg.n + j)
		t0 := time.Now()
		_, err := db.CaptureByEventID(ctx, id)
		r.misses = append(r.misses, time.Since(t0))
		if glassbox.ErrorCode(err) != glassbox.ENotFound {
			return nil, fmt.Errorf("look up missing id %s: want not found, got %v", id, err)
		}
	}

	// 3. Time-window pages.
	span := time.Duration(cfg.n) * timeStep
	log("%d time-window pages of %d rows", cfg.pages, pageRows)
	r.pages = make([]time.Duration, 0, cfg.pages)
	for range cfg.pages {
		since := gen.t0
		if span > windowLength {
			since = since.Add(time.Duration(rng.Int64N(int64(span - windowLength))))
		}
		f := capture.IndexFilter{Endpoint: gen.endpoints[rng.IntN(endpointCount)], Since: since, Until: since.Add(windowLength), Limit: pageRows}
		t0 := time.Now()
		page, err := db.ListCaptures(ctx, f)
		r.pages = append(r.pages, time.Since(t0))
		if err != nil {
			return nil, fmt.Errorf("list captures: %w", err)
		}
		r.pageRows += len(page)
	}
	return r, nil
}

// generator derives entry i deterministically.
type generator struct {
	ns        uuid.UUID
	t0        time.Time
	endpoints []string
}

func newGenerator() *generator {
	g := &generator{
		ns: uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://glassbox.dev/tools/indexbench")),
		t0: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	}
	for e := range endpointCount {
		g.endpoints = append(g.endpoints, fmt.Sprintf("endpoint-%02d", e))
	}
	return g
}

// eventID returns the event id of entry i: the UUIDv5 of i.
func (g *generator) eventID(i int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return uuid.NewSHA1(g.ns, b[:]).String()
}

// entry returns entry i.
func (g *generator) entry(i int) capture.IndexEntry {
	at := g.t0.Add(time.Duration(i) * timeStep)
	ep := g.endpoints[i%endpointCount]
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ^uint64(i))
	return capture.IndexEntry{
		EventID:     g.eventID(i),
		InferenceID: uuid.NewSHA1(g.ns, b[:]).String(),
		Endpoint:    ep,
		Variant:     "AllTraffic",
		Time:        at,
		Status:      200,
		Object:      fmt.Sprintf("captures/%s/AllTraffic/%s/part-%08d.jsonl", ep, at.Format("2006/01/02/15"), i/linesPerPart),
		Line:        i%linesPerPart + 1,
	}
}

// serverVersion returns the database engine and version.
func serverVersion(ctx context.Context, db *store.DB) string {
	q, name := "SELECT sqlite_version()", "SQLite "
	if db.Dialect() == store.DialectPostgres {
		q, name = "SHOW server_version", "PostgreSQL "
	}
	var v string
	if err := db.SQLDB().QueryRowContext(ctx, q).Scan(&v); err != nil {
		return strings.TrimSpace(name)
	}
	return name + strings.Fields(v)[0]
}

// fileSize returns the size of path, or 0.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// ---- private PostgreSQL cluster ----

// cluster is a PostgreSQL cluster started by pg_ctl.
type cluster struct {
	bin, dir string
	asPG     []string
	dsn      string
}

// startCluster runs initdb and pg_ctl start in a new folder under parent.
func startCluster(ctx context.Context, parent string) (*cluster, error) {
	bin, err := findPGBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "pg-")
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root. The folder and every parent
		// must be reachable by the postgres user.
		c.asPG = []string{"runuser", "-u", "postgres", "--"}
		if out, err := exec.CommandContext(ctx, "chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("chown %s: %v: %s", dir, err, out)
		}
		_ = os.Chmod(parent, 0o755)
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := c.pg(ctx, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", port, dir)
	if err := c.pg(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	fmt.Fprintf(os.Stderr, "indexbench: started PostgreSQL on 127.0.0.1:%d (%s)\n", port, dir)
	return c, nil
}

// pg runs a PostgreSQL program of the cluster's installation.
func (c *cluster) pg(ctx context.Context, prog string, args ...string) error {
	argv := append(slices.Clone(c.asPG), append([]string{filepath.Join(c.bin, prog)}, args...)...)
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", prog, err, out)
	}
	return nil
}

// stop shuts the cluster down and removes its folder.
func (c *cluster) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.pg(ctx, "pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "stop"); err != nil {
		fmt.Fprintf(os.Stderr, "indexbench: stop PostgreSQL: %v\n", err)
	}
	_ = os.RemoveAll(c.dir)
}

// findPGBin returns the folder with initdb and pg_ctl.
func findPGBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return pgMajor(b) - pgMajor(a) })
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
				return d, nil
			}
		}
	}
	return "", errors.New("PostgreSQL not found (no initdb and pg_ctl in /usr/lib/postgresql/*/bin or PATH); pass -pg DSN or -dialects sqlite")
}

// pgMajor returns N of /usr/lib/postgresql/N/bin.
func pgMajor(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ---- report ----

// percentile returns the p-quantile (0..1) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64) + " ms"
}

// thousands formats n with thousands separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// render returns the markdown report.
func render(cfg *config, results []*result, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# indexbench: capture index with %s entries\n\n", thousands(int64(cfg.n)))
	fmt.Fprintf(&b, "Target: event-id lookup **< 1 s worst case**. %s, %d CPUs, %s/%s; run took %s.\n\n",
		runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, total.Round(time.Second))
	fmt.Fprintf(&b, "Entries: %d endpoints, one every %s (%s of traffic), UUIDv5 event and inference ids; "+
		"inserted with IndexCaptures in batches of %d (one transaction per batch).\n\n",
		endpointCount, timeStep, strconv.FormatFloat((time.Duration(cfg.n)*timeStep).Hours(), 'f', 1, 64)+" h", cfg.batch)

	b.WriteString("| store | settings | insert time | insert rate | rate, last 10% | size on disk |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		if r.skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s | | | | |\n", r.dialect, r.skipped)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s /s | %s /s | %.2f GB |\n", r.version, r.settings, r.insert.Round(time.Second),
			thousands(int64(float64(r.inserted)/r.insert.Seconds())), thousands(int64(r.tailRate)), float64(r.size)/1e9)
	}
	b.WriteString("\n| store | query | calls | p50 | p99 | max | max < 1 s |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | :---: |\n")
	for _, r := range results {
		if r.skipped != "" {
			continue
		}
		rows := []struct {
			name string
			d    []time.Duration
		}{
			{"CaptureByEventID, existing id", r.hits},
			{"CaptureByEventID, missing id", r.misses},
			{fmt.Sprintf("ListCaptures, 1 h window, %d rows", pageRows), r.pages},
		}
		for _, row := range rows {
			if len(row.d) == 0 {
				continue
			}
			s := slices.Clone(row.d)
			slices.Sort(s)
			ok := "yes"
			if s[len(s)-1] >= target {
				ok = "**no**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.version, row.name, thousands(int64(len(s))),
				ms(percentile(s, 0.50)), ms(percentile(s, 0.99)), ms(s[len(s)-1]), ok)
		}
	}
	b.WriteString("\nLookups run one at a time on one goroutine, right after the load (warm OS page cache), " +
		"through database/sql (modernc.org/sqlite; pgx/v5 stdlib).\n")
	return b.String()
}

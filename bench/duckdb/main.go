// Command duckstats times DuckDB computing the "full" column statistics of
// a churn-like CSV file or a capture JSONL file, the reference a Glassbox
// monitoring run is compared against (see bench/duckdb/README.md).
//
// For every numeric column it asks, in one query, for count, nulls, avg,
// sum, stddev_pop, min, max, approx_quantile at 0.1 … 0.9 and
// approx_count_distinct, reads every result row, and prints one JSON line:
//
//	{"rows":1000000,"seconds":5.3,"rows_per_sec":188000,"threads":1}
//
// seconds covers running the query and scanning its result; opening the
// in-memory database, SET threads and (for CSV) reading the header are not
// timed.
package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	_ "github.com/marcboeker/go-duckdb" // registers the "duckdb" driver
)

// quantiles are the approx_quantile fractions of the full statistics.
const quantiles = "[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]"

// result is the one line duckstats prints.
type result struct {
	Rows       int64   `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
	Threads    int     `json:"threads"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "duckstats:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("duckstats", flag.ContinueOnError)
	file := fs.String("file", "", "input file (required)")
	format := fs.String("format", "csv", "input format: csv (header row, numeric columns) or capture (Data Capture JSONL with CSV payloads)")
	threads := fs.Int("threads", 1, "DuckDB worker threads (SET threads)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *threads < 1 {
		fs.Usage()
		return errors.New("-file is required and -threads must be at least 1")
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		return fmt.Errorf("open duckdb: %w", err)
	}
	defer db.Close()
	// One connection, so that SET threads applies to the query that follows.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(fmt.Sprintf("SET threads=%d", *threads)); err != nil {
		return fmt.Errorf("set threads: %w", err)
	}

	var query string
	switch *format {
	case "csv":
		query, err = csvQuery(db, *file)
	case "capture":
		query, err = captureQuery(*file)
	default:
		return fmt.Errorf("unknown -format %q: want csv or capture", *format)
	}
	if err != nil {
		return err
	}

	start := time.Now()
	rows, err := scanAll(db, query)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	return json.NewEncoder(stdout).Encode(result{Rows: rows, Seconds: secs, RowsPerSec: float64(rows) / secs, Threads: *threads})
}

// scanAll runs query, scans every value of every result row, and returns the
// first value of the first row: count(*).
func scanAll(db *sql.DB, query string) (int64, error) {
	rs, err := db.Query(query)
	if err != nil {
		return 0, fmt.Errorf("run statistics query: %w", err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return 0, fmt.Errorf("read result columns: %w", err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var count int64 = -1
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return 0, fmt.Errorf("scan result row: %w", err)
		}
		if count < 0 {
			n, ok := vals[0].(int64)
			if !ok {
				return 0, fmt.Errorf("count(*) is a %T, want int64", vals[0])
			}
			count = n
		}
	}
	if err := rs.Err(); err != nil {
		return 0, fmt.Errorf("read result: %w", err)
	}
	if count < 0 {
		return 0, errors.New("statistics query returned no row")
	}
	return count, nil
}

// aggregates returns the nine statistics of one column expression.
func aggregates(c string) string {
	return fmt.Sprintf("count(%[1]s), count(*)-count(%[1]s), avg(%[1]s), sum(%[1]s), stddev_pop(%[1]s), min(%[1]s), max(%[1]s), approx_quantile(%[1]s,%[2]s), approx_count_distinct(%[1]s)", c, quantiles)
}

// statsSelect is the full statistics query over the given columns of from.
func statsSelect(cols []string, from string) string {
	var b strings.Builder
	b.WriteString("SELECT count(*)")
	for _, c := range cols {
		b.WriteString(",\n  ")
		b.WriteString(aggregates(c))
	}
	b.WriteString("\nFROM ")
	b.WriteString(from)
	return b.String()
}

// csvQuery builds the query for a CSV file with a header, letting DuckDB
// detect the column types as a user of read_csv would.
func csvQuery(db *sql.DB, file string) (string, error) {
	from := fmt.Sprintf("read_csv(%s, header=true)", quoteLiteral(file))
	rs, err := db.Query("DESCRIBE SELECT * FROM " + from)
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", file, err)
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", file, err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var names []string
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return "", fmt.Errorf("describe %s: %w", file, err)
		}
		name, ok := vals[0].(string)
		if !ok {
			return "", fmt.Errorf("describe %s: column name is a %T", file, vals[0])
		}
		names = append(names, quoteIdent(name))
	}
	if err := rs.Err(); err != nil {
		return "", fmt.Errorf("describe %s: %w", file, err)
	}
	if len(names) == 0 {
		return "", fmt.Errorf("%s has no columns", file)
	}
	return statsSelect(names, from), nil
}

// captureQuery builds the query for Data Capture JSONL whose input payload
// is one CSV row: the features are split out of endpointInput.data and cast
// to DOUBLE, and the model's score in endpointOutput.data is one more
// column. The number of features is taken from the file's first line.
func captureQuery(file string) (string, error) {
	n, err := featureCount(file)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("WITH t AS (SELECT string_split(captureData.endpointInput.data, ',') AS f, captureData.endpointOutput.data AS o\n")
	fmt.Fprintf(&b, "  FROM read_json(%s, format='newline_delimited', columns={"+
		"captureData: 'STRUCT(endpointInput STRUCT(observedContentType VARCHAR, mode VARCHAR, data VARCHAR, encoding VARCHAR), "+
		"endpointOutput STRUCT(observedContentType VARCHAR, mode VARCHAR, data VARCHAR, encoding VARCHAR))', "+
		"eventMetadata: 'STRUCT(eventId VARCHAR, inferenceTime VARCHAR)', eventVersion: 'VARCHAR'})),\n", quoteLiteral(file))
	b.WriteString("c AS (SELECT ")
	cols := make([]string, 0, n+1)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "CAST(f[%d] AS DOUBLE) AS c%d, ", i, i)
		cols = append(cols, fmt.Sprintf("c%d", i))
	}
	b.WriteString("CAST(o AS DOUBLE) AS pred FROM t)\n")
	cols = append(cols, "pred")
	return b.String() + statsSelect(cols, "c"), nil
}

// featureCount returns the number of CSV fields in the first line's
// endpointInput.data.
func featureCount(file string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("open capture file: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 1<<20).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read %s: %w", file, err)
	}
	var rec struct {
		CaptureData struct {
			EndpointInput struct {
				Data string `json:"data"`
			} `json:"endpointInput"`
		} `json:"captureData"`
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return 0, fmt.Errorf("first line of %s is not a capture record: %w", file, err)
	}
	if rec.CaptureData.EndpointInput.Data == "" {
		return 0, fmt.Errorf("first line of %s has no endpointInput.data", file)
	}
	return strings.Count(rec.CaptureData.EndpointInput.Data, ",") + 1, nil
}

// quoteIdent quotes a column name for SQL.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteLiteral quotes a string literal for SQL.
func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

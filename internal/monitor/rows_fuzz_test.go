package monitor_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// addRowSeeds adds every testdata/rows file whose name ends with one of exts
// to the fuzz corpus.
func addRowSeeds(f *testing.F, add func([]byte), exts ...string) {
	f.Helper()
	for _, ext := range exts {
		files, err := filepath.Glob(filepath.Join("testdata", "rows", "*"+ext))
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			add(b)
		}
	}
}

// FuzzAssembleCSV checks that no CSV payload panics the assembler, and that
// a payload without quotes gives one row per non-blank line with
// count(",")+1 values each.
func FuzzAssembleCSV(f *testing.F) {
	addRowSeeds(f, func(b []byte) { f.Add(b) }, ".csv")
	f.Add([]byte(""))
	f.Add([]byte("\r\n,\n"))
	f.Add([]byte(`"`))
	a := mustAssembler(f, monitor.RowOptions{Input: monitor.PayloadFormat{Format: "csv"}})
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := capRecord(capIn("text/csv", string(data)), nil)
		var counts []int
		err := a.Rows(rec, func(r *monitor.Row) error {
			if r.Names != nil {
				t.Fatalf("a CSV row has names %q", r.Names)
			}
			counts = append(counts, len(r.Values))
			return nil
		})
		if bytes.IndexByte(data, '"') >= 0 {
			return
		}
		if err != nil {
			t.Fatalf("CSV without quotes gave an error: %v", err)
		}
		var want []int
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) > 0 {
				want = append(want, bytes.Count(line, []byte(","))+1)
			}
		}
		if len(want) != len(counts) {
			t.Fatalf("got %d rows, want %d", len(counts), len(want))
		}
		for i := range want {
			if want[i] != counts[i] {
				t.Fatalf("row %d has %d values, want %d", i, counts[i], want[i])
			}
		}
	})
}

// FuzzAssembleJSON checks that no JSON payload or column path panics the
// assembler, and that the parser agrees with encoding/json: a payload is one
// row exactly when it is a single valid JSON value.
func FuzzAssembleJSON(f *testing.F) {
	addRowSeeds(f, func(b []byte) { f.Add(b, "") }, ".json", ".jsonl")
	f.Add([]byte(`{"a":[1,{"b":"\u00e9"}]}`), "$.a[1].b")
	f.Add([]byte(`[[[]]]`), `$[0]["x"]`)
	f.Add([]byte(`"\ud800"`), "$")
	plain := mustAssembler(f, monitor.RowOptions{Input: monitor.PayloadFormat{Format: "json"}})
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		rec := capRecord(capIn("application/json", string(data)), nil)
		rows := 0
		err := plain.Rows(rec, func(r *monitor.Row) error {
			rows++
			if r.Names != nil && len(r.Names) != len(r.Values) {
				t.Fatalf("%d names for %d values", len(r.Names), len(r.Values))
			}
			return nil
		})
		valid := json.Valid(data)
		if valid && (err != nil || rows != 1) {
			t.Fatalf("valid JSON gave %d rows, error %v", rows, err)
		}
		if !valid && err == nil && rows == 1 {
			t.Fatalf("invalid JSON %q was accepted as one row", data)
		}
		a, err := monitor.NewAssembler(monitor.RowOptions{Input: monitor.PayloadFormat{Columns: []monitor.Column{{Name: "c", Path: path}}}})
		if err != nil {
			return
		}
		err = a.Rows(rec, func(r *monitor.Row) error {
			if len(r.Values) != 1 || len(r.Names) != 1 || r.Names[0] != "c" {
				t.Fatalf("path row is %q %v, want one value named c", r.Names, r.Values)
			}
			return nil
		})
		if valid && err != nil {
			t.Fatalf("valid JSON with path %q: %v", path, err)
		}
	})
}

// TestAssembler_SageMakerRecord reads a capture line exactly as SageMaker
// wrote it.
func TestAssembler_SageMakerRecord(t *testing.T) {
	t.Parallel()
	line := []byte(`{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"132,10,182.9","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.036397725343704224","encoding":"CSV"}},"eventMetadata":{"eventId":"f04a8538-696c-4648-8064-8b680b2e3318","inferenceTime":"2022-04-18T00:21:48Z"},"eventVersion":"0"}`)
	rec, err := capture.DecodeRecord(line)
	if err != nil {
		t.Fatal(err)
	}
	got, err := collectRows(mustAssembler(t, monitor.RowOptions{}), rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0]) != 4 || got[0][0] != "0.036397725343704224" {
		t.Fatalf("rows = %q, want one row of 4 values, the output first", got)
	}
}

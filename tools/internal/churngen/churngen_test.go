package churngen_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
	"github.com/glassbox-dev/glassbox/tools/internal/churngen"
)

// sourcePath is the churn training set in the shared checkout next to the
// repository; a user's checkout has no such folder.
const sourcePath = "../../../../shared/datasets/sagemaker-churn/training-dataset-with-header.csv"

func mustSource(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile(sourcePath)
	if os.IsNotExist(err) {
		t.Skipf("churn data set not found at %s", sourcePath)
	}
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestWriteCSV(t *testing.T) {
	src := mustSource(t)
	srcLines := strings.Split(strings.TrimRight(string(src), "\r\n"), "\n")
	n := 2*(len(srcLines)-1) + 10 // two full repetitions and a bit

	var a, b bytes.Buffer
	if err := churngen.WriteCSV(&a, src, n); err != nil {
		t.Fatal(err)
	}
	if err := churngen.WriteCSV(&b, src, n-5); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(a.Bytes(), b.Bytes()) {
		t.Fatal("a shorter output is not a prefix of a longer one")
	}
	got := strings.Split(strings.TrimSuffix(a.String(), "\n"), "\n")
	if len(got) != n+1 {
		t.Fatalf("got %d lines, want header + %d rows", len(got), n)
	}
	header := strings.Split(got[0], ",")
	var mins []int
	for i, h := range header {
		if strings.HasSuffix(h, "Mins") {
			mins = append(mins, i)
		}
	}
	if len(mins) != 4 {
		t.Fatalf("found %d Mins columns, want 4", len(mins))
	}
	rows := len(srcLines) - 1
	for i := 1; i <= n; i++ {
		orig := strings.Split(srcLines[(i-1)%rows+1], ",")
		row := strings.Split(got[i], ",")
		if i <= rows {
			if got[i] != srcLines[i] {
				t.Fatalf("row %d of the first repetition is not the source row", i)
			}
			continue
		}
		for c := range row {
			if !slices.Contains(mins, c) {
				if row[c] != orig[c] {
					t.Fatalf("row %d column %d = %q, want unchanged %q", i, c, row[c], orig[c])
				}
				continue
			}
			if dot := strings.IndexByte(row[c], '.'); dot < 0 || len(row[c])-dot != 4 {
				t.Fatalf("row %d column %d = %q, want 3 decimals", i, c, row[c])
			}
			v, _ := strconv.ParseFloat(row[c], 64)
			o, _ := strconv.ParseFloat(orig[c], 64)
			if v < 0 || (v-o > 0.1+1e-9 || o-v > 0.1+1e-9) && v != 0 {
				t.Fatalf("row %d column %d = %v, not within 0.1 of %v", i, c, v, o)
			}
		}
	}
}

func TestWriteCapture(t *testing.T) {
	src := mustSource(t)
	const n = 3000
	var csvOut, capOut bytes.Buffer
	if err := churngen.WriteCSV(&csvOut, src, n); err != nil {
		t.Fatal(err)
	}
	if err := churngen.WriteCapture(&capOut, src, n); err != nil {
		t.Fatal(err)
	}
	csvRows := strings.Split(strings.TrimSuffix(csvOut.String(), "\n"), "\n")[1:]
	sc := bufio.NewScanner(&capOut)
	sc.Buffer(nil, 1<<20)
	ids := map[string]bool{}
	i := 0
	for ; sc.Scan(); i++ {
		rec, err := capture.DecodeRecord(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		in, out := rec.CaptureData.EndpointInput, rec.CaptureData.EndpointOutput
		if _, features, _ := strings.Cut(csvRows[i], ","); in.Data != features {
			t.Fatalf("line %d input %q, want the CSV row without its label %q", i, in.Data, features)
		}
		if in.ObservedContentType != "text/csv" || in.Encoding != capture.EncodingCSV || out.ObservedContentType != "text/csv" {
			t.Fatalf("line %d: unexpected payload shape %+v %+v", i, in, out)
		}
		if s, err := strconv.ParseFloat(out.Data, 64); err != nil || s < 0 || s >= 1 || len(out.Data) != 8 {
			t.Fatalf("line %d: score %q is not a 6-decimal number in [0,1)", i, out.Data)
		}
		if want := churngen.Start.Add(time.Duration(i) * time.Second).Format(capture.InferenceTimeLayout); rec.EventMetadata.InferenceTime != want {
			t.Fatalf("line %d: inferenceTime %s, want %s", i, rec.EventMetadata.InferenceTime, want)
		}
		if id := rec.EventMetadata.EventID; ids[id] || len(id) != 36 || id[14] != '4' {
			t.Fatalf("line %d: eventId %q is repeated or not UUID v4-shaped", i, id)
		}
		ids[rec.EventMetadata.EventID] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("got %d capture lines, want %d", i, n)
	}
}

func TestWriteCaptureTree(t *testing.T) {
	src := mustSource(t)
	dir := t.TempDir()
	opts := churngen.DefaultTreeOptions()
	opts.LinesPerObject, opts.PerSecond = 1000, 2 // 7,200 lines an hour: objects cut at the hour too
	const n = 9000
	keys, err := churngen.WriteCaptureTree(dir, src, n, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < n/opts.LinesPerObject+1 {
		t.Fatalf("wrote %d objects, want at least %d", len(keys), n/opts.LinesPerObject+1)
	}
	for _, k := range keys {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(k))); err != nil {
			t.Fatal(err)
		}
	}
	bucket, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &capture.Reader{Bucket: bucket}
	count := 0
	err = r.Scan(context.Background(), capture.Filter{Endpoint: opts.Endpoint}, func(key string, rec *capture.Record) error {
		info, err := capture.ParseObjectKey(key)
		if err != nil {
			return err
		}
		if tm, _ := rec.Time(); !tm.Truncate(time.Hour).Equal(info.Hour) {
			t.Fatalf("record at %s is in object %s of hour %s", tm, key, info.Hour)
		}
		count++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Fatalf("reader saw %d records, want %d", count, n)
	}
	// The first hour is full; the second holds the remaining 1,800 lines.
	window := capture.Filter{Endpoint: opts.Endpoint, Since: churngen.Start, Until: churngen.Start.Add(time.Hour)}
	inWindow := 0
	if err := r.Scan(context.Background(), window, func(string, *capture.Record) error { inWindow++; return nil }); err != nil {
		t.Fatal(err)
	}
	if want := 3600 * opts.PerSecond; inWindow != want {
		t.Fatalf("one-hour window holds %d records, want %d", inWindow, want)
	}
}

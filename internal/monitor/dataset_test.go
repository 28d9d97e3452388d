package monitor_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"

	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// churnCSV is the SageMaker Model Monitor tutorial's training set. It lives
// in the shared folder beside the checkout, which a user's clone lacks, so
// tests that need it skip when it is absent (even under CI).
const churnCSV = "../../../shared/datasets/sagemaker-churn/training-dataset-with-header.csv"

func readChurn(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(churnCSV)
	if errors.Is(err, os.ErrNotExist) {
		tb.Skipf("%s is absent (it is in the shared folder, not the repository)", churnCSV)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func profileText(t *testing.T, kind string, header bool, text string) *monitor.Profile {
	t.Helper()
	p, err := monitor.ProfileDataset(context.Background(), strings.NewReader(text), monitor.DatasetFormat{Kind: kind, Header: header}, monitor.ProfilerOptions{}, nil)
	if err != nil {
		t.Fatalf("ProfileDataset: %v", err)
	}
	return p.Profile()
}

// summary renders each column as "name type present/missing [categories]".
func summary(prof *monitor.Profile) []string {
	var out []string
	for i, c := range prof.Columns {
		s := fmt.Sprintf("%s %s %d/%d", c.Name, prof.Statistics.Features[i].InferredType, c.Present, c.Missing)
		if f := prof.Statistics.Features[i]; f.StringStatistics != nil {
			for _, b := range f.StringStatistics.Distribution.Categorical.Buckets {
				s += fmt.Sprintf(" %q:%v", b.Value, b.Count)
			}
		}
		out = append(out, s)
	}
	return out
}

func TestProfileDataset_CSV(t *testing.T) {
	text := "\xef\xbb\xbfid,name,score\r\n" +
		"1,alice,0.5\r\n" +
		"\r\n" + // blank lines are skipped
		"2,\"bob, jr.\",1.5\n" +
		"3,\"say \"\"hi\"\"\",\n" + // trailing empty field
		"4,\"two\nlines\",2\n" +
		"5\n" + // ragged: short
		"6,x,3,extra\n" + // ragged: long
		"7,,4"
	prof := profileText(t, "csv", true, text)
	want := []string{
		"id Integral 7/0",
		`name String 5/2 "alice":1 "bob, jr.":1 "say \"hi\"":1 "two\nlines":1 "x":1`,
		"score Fractional 5/2",
		`_c3 String 1/6 "extra":1`,
	}
	if diff := cmp.Diff(want, summary(prof)); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	if n := prof.Statistics.Dataset.ItemCount; n != 7 {
		t.Errorf("item_count = %d, want 7", n)
	}
	if s := prof.Statistics.Features[2].NumericalStatistics.Sum; s != 11 {
		t.Errorf("score sum = %v, want 11", s)
	}
}

func TestProfileDataset_CSVNoHeader(t *testing.T) {
	p, err := monitor.ProfileDataset(context.Background(), strings.NewReader("1,2\n3,4\n"), monitor.DatasetFormat{Kind: "csv"},
		monitor.ProfilerOptions{Names: []string{"a"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a Integral 2/0", "_c1 Integral 2/0"}
	if diff := cmp.Diff(want, summary(p.Profile())); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
}

func TestProfileDataset_CSVErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"bare quote", "a,b\n1,2\n3,x\"y\n", "line 3, column 4: quote inside an unquoted field"},
		{"text after closing quote", "a,b\n\"1\"x,2\n", `line 2, column 4: unexpected 'x' after a closing quote`},
		{"unterminated", "a,b\n1,2\n3,\"open\nstill open\n", "line 3: quoted field is not closed before the end of the input"},
		{"duplicate header", "a,b,a\n1,2,3\n", `line 1: header names column 1 and column 3 both "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := monitor.ProfileDataset(context.Background(), strings.NewReader(tt.text), monitor.DatasetFormat{Kind: "csv", Header: true}, monitor.ProfilerOptions{}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestProfileDataset_JSONL(t *testing.T) {
	text := `{"id": 1, "name": "alice", "score": 0.5, "geo": {"country": "DE", "zip": "10115"}, "v": [1, 2]}
{"id": 2, "name": null, "score": 1e1, "geo": {"country": "FR"}, "v": [3], "ok": true}

  {"score": -2, "id": 3, "name": "\u00e9\"\n\ud83d\ude00", "geo": {}, "v": []}
{"id":4,"name":"dup","name":"ignored"}
`
	prof := profileText(t, "jsonl", false, text)
	want := []string{
		"id Integral 4/0",
		`name String 3/1 "alice":1 "dup":1 "é\"\n😀":1`,
		"score Fractional 3/1",
		`geo.country String 2/2 "DE":1 "FR":1`,
		`geo.zip String 1/3 "10115":1`, // a JSON string stays a String
		"v[0] Integral 2/2",
		"v[1] Integral 1/3",
		`ok String 1/3 "true":1`,
	}
	if diff := cmp.Diff(want, summary(prof)); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
}

func TestProfileDataset_JSONLErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"not an object", "{\"a\":1}\n[1,2]\n", "line 2: column 1: a line must hold a JSON object"},
		{"unclosed", "{\"a\":1\n", "line 1: column 7: object is not closed"},
		{"bad number", "{\"a\":01}\n", "line 1: column 7: expected ',' or '}'"},
		{"bad number 2", "{\"a\":-}\n", "line 1: column 7: malformed number"},
		{"trailing garbage", "{\"a\":1} x\n", `line 1: column 9: unexpected 'x' after the object`},
		{"bad escape", "{\"a\":\"\\x\"}\n", `line 1: column 7: unknown escape \x`},
		{"control character", "{\"a\":\"\t\"}\n", "line 1: column 7: control character 0x09 in a string"},
		{"bad literal", "{\"a\":nope}\n", "line 1: column 6: unexpected 'n' where a value should be"},
		{"too deep", "{\"a\":" + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}\n", "nest deeper than 64 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := monitor.ProfileDataset(context.Background(), strings.NewReader(tt.text), monitor.DatasetFormat{Kind: "jsonl"}, monitor.ProfilerOptions{}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestProfileDataset_UnknownKind(t *testing.T) {
	_, err := monitor.ProfileDataset(context.Background(), strings.NewReader(""), monitor.DatasetFormat{Kind: "xml"}, monitor.ProfilerOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("error = %v, want unknown format", err)
	}
}

func TestProfileDataset_ProgressAndCancel(t *testing.T) {
	var b strings.Builder
	b.WriteString("a,b\n")
	for i := range 10_000 {
		fmt.Fprintf(&b, "%d,%d.5\n", i, i)
	}
	var last int64
	_, err := monitor.ProfileDataset(context.Background(), strings.NewReader(b.String()), monitor.DatasetFormat{Kind: "csv", Header: true}, monitor.ProfilerOptions{},
		func(n int64) {
			if n < last {
				t.Errorf("progress went back from %d to %d", last, n)
			}
			last = n
		})
	if err != nil {
		t.Fatal(err)
	}
	if last != int64(b.Len()) {
		t.Errorf("last progress = %d, want the input size %d", last, b.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = monitor.ProfileDataset(ctx, strings.NewReader(b.String()), monitor.DatasetFormat{Kind: "csv", Header: true}, monitor.ProfilerOptions{}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

type parquetRecord struct {
	ID     int64    `parquet:"id"`
	Score  float64  `parquet:"score"`
	Name   string   `parquet:"name"`
	Count  *int32   `parquet:"count,optional"`
	Flag   bool     `parquet:"flag"`
	Amount int64    `parquet:"amount,decimal(2:18)"`
	Ratio  *float32 `parquet:"ratio,optional"`
}

func TestProfileParquet(t *testing.T) {
	three := int32(3)
	half := float32(0.5)
	recs := []parquetRecord{
		{ID: 1, Score: 2, Name: "a", Count: &three, Flag: true, Amount: 12345, Ratio: &half},
		{ID: 2, Score: 2.5, Name: "b", Flag: false, Amount: -5},
		{ID: 3, Score: -1, Name: "", Count: &three, Amount: 100},
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRecord](&buf)
	if _, err := w.Write(recs); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var progress int64
	p, err := monitor.ProfileParquet(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), monitor.ProfilerOptions{}, func(n int64) { progress = n })
	if err != nil {
		t.Fatal(err)
	}
	prof := p.Profile()
	want := []string{
		"id Integral 3/0",
		"score Fractional 3/0", // whole doubles stay Fractional
		`name String 2/1 "a":1 "b":1`,
		"count Integral 2/1",
		`flag String 3/0 "false":2 "true":1`,
		"amount Fractional 3/0",
		"ratio Fractional 1/2",
	}
	if diff := cmp.Diff(want, summary(prof)); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	amount := prof.Statistics.Features[5].NumericalStatistics
	if amount.Min != -0.05 || amount.Max != 123.45 {
		t.Errorf("decimal amount min %v max %v, want -0.05 and 123.45", amount.Min, amount.Max)
	}
	if progress <= 0 {
		t.Errorf("progress = %d, want the row group's size", progress)
	}

	// The same bytes through ProfileDataset, from a plain io.Reader.
	p2, err := monitor.ProfileDataset(context.Background(), io.MultiReader(bytes.NewReader(buf.Bytes())), monitor.DatasetFormat{Kind: "parquet"}, monitor.ProfilerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, summary(p2.Profile())); diff != "" {
		t.Errorf("via ProfileDataset (-want +got):\n%s", diff)
	}
}

func TestProfileParquet_RepeatedColumn(t *testing.T) {
	type rec struct {
		Tags []string `parquet:"tags,list"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[rec](&buf)
	if _, err := w.Write([]rec{{Tags: []string{"x"}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := monitor.ProfileParquet(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), monitor.ProfilerOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "is repeated") {
		t.Errorf("error = %v, want a repeated-column error", err)
	}
}

// The real churn training set: 2,333 rows of 70 numeric columns. Every
// column's statistics must match a plain two-pass computation over the same
// file read with encoding/csv.
func TestProfileDataset_Churn(t *testing.T) {
	data := readChurn(t)
	p, err := monitor.ProfileDataset(context.Background(), bytes.NewReader(data), monitor.DatasetFormat{Kind: "csv", Header: true}, monitor.ProfilerOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	prof := p.Profile()
	st := prof.Statistics
	if st.Dataset.ItemCount != 2333 || len(st.Features) != 70 {
		t.Fatalf("item_count %d, %d features; want 2333 and 70", st.Dataset.ItemCount, len(st.Features))
	}

	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header, rows := records[0], records[1:]
	for j, name := range header {
		f := st.Features[j]
		if f.Name != name {
			t.Fatalf("feature %d is %q, want %q", j, f.Name, name)
		}
		var sum float64
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range rows {
			x, err := strconv.ParseFloat(r[j], 64)
			if err != nil {
				t.Fatalf("row value %q of %s: %v", r[j], name, err)
			}
			sum += x
			lo, hi = min(lo, x), max(hi, x)
		}
		mean := sum / float64(len(rows))
		var ss float64
		for _, r := range rows {
			x, _ := strconv.ParseFloat(r[j], 64)
			ss += (x - mean) * (x - mean)
		}
		std := math.Sqrt(ss / float64(len(rows)))
		ns := f.NumericalStatistics
		if ns == nil {
			t.Errorf("%s: inferred %s, want numeric", name, f.InferredType)
			continue
		}
		near := func(what string, got, want float64) {
			if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("%s: %s = %v, want %v", name, what, got, want)
			}
		}
		near("mean", ns.Mean, mean)
		near("std_dev", ns.StdDev, std)
		near("min", ns.Min, lo)
		near("max", ns.Max, hi)
		near("sum", ns.Sum, sum)
		if ns.Common.NumPresent != 2333 || ns.Common.NumMissing != 0 {
			t.Errorf("%s: common = %+v, want 2333 present", name, ns.Common)
		}
		var bucketTotal float64
		for _, b := range ns.Distribution.KLL.Buckets {
			bucketTotal += b.Count
		}
		if bucketTotal != 2333 {
			t.Errorf("%s: buckets hold %v values, want 2333", name, bucketTotal)
		}
	}

	churn := st.Features[0]
	if churn.Name != "Churn" || churn.InferredType != monitor.TypeIntegral {
		t.Errorf("first feature %s %s, want Churn Integral", churn.Name, churn.InferredType)
	}
	var churned int
	for _, r := range rows {
		if r[0] == "1" {
			churned++
		}
	}
	if want := float64(churned) / float64(len(rows)); churn.NumericalStatistics.Mean != want {
		t.Errorf("Churn mean = %v, want %v", churn.NumericalStatistics.Mean, want)
	}
	for _, name := range []string{"Day Mins", "Eve Mins", "Night Mins", "Intl Mins"} {
		for i, f := range st.Features {
			if f.Name == name && (f.InferredType != monitor.TypeFractional || prof.Columns[i].Fractional == 0) {
				t.Errorf("%s is %s (%d fractional cells), want Fractional", name, f.InferredType, prof.Columns[i].Fractional)
			}
		}
	}
	if f := st.Features[1]; f.Name != "Account Length" || f.InferredType != monitor.TypeIntegral {
		t.Errorf("feature 1 is %s %s, want Account Length Integral", f.Name, f.InferredType)
	}
}

func BenchmarkProfileCSV(b *testing.B) {
	data := readChurn(b)
	nl := bytes.IndexByte(data, '\n')
	header, body := data[:nl+1], data[nl+1:]
	const copies = 20
	input := append([]byte{}, header...)
	for range copies {
		input = append(input, body...)
	}
	rows := int64(copies * bytes.Count(body, []byte{'\n'}))
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := monitor.ProfileDataset(context.Background(), bytes.NewReader(input), monitor.DatasetFormat{Kind: "csv", Header: true}, monitor.ProfilerOptions{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if p.Rows() != rows {
			b.Fatalf("%d rows, want %d", p.Rows(), rows)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*rows), "ns/row")
}

// The readers must return an error, never panic, on any input.
func FuzzProfileDataset(f *testing.F) {
	f.Add("a,b\n1,\"x\"\"y\"\n2", false)
	f.Add("{\"a\": {\"b\": [1, \"\\u00e9\"]}, \"c\": null}\n", true)
	f.Fuzz(func(t *testing.T, text string, jsonl bool) {
		kind := "csv"
		if jsonl {
			kind = "jsonl"
		}
		p, err := monitor.ProfileDataset(context.Background(), strings.NewReader(text), monitor.DatasetFormat{Kind: kind, Header: true}, monitor.ProfilerOptions{}, nil)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := monitor.WriteJSON(&buf, p.Profile().Statistics); err != nil {
			t.Fatalf("statistics do not encode: %v", err)
		}
	})
}

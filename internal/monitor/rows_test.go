package monitor_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// payload returns a capture payload; enc "" picks CSV or JSON from ct.
func capPayload(mode, ct, enc, data string) *capture.Payload {
	if enc == "" {
		enc = capture.EncodingCSV
		if strings.Contains(ct, "json") {
			enc = capture.EncodingJSON
		}
	}
	if enc == capture.EncodingBase64 {
		data = base64.StdEncoding.EncodeToString([]byte(data))
	}
	return &capture.Payload{ObservedContentType: ct, Mode: mode, Data: data, Encoding: enc}
}

func capRecord(in, out *capture.Payload) *capture.Record {
	return &capture.Record{
		CaptureData:   capture.CaptureData{EndpointInput: in, EndpointOutput: out},
		EventMetadata: capture.EventMetadata{EventID: "e1", InferenceTime: "2024-05-02T14:07:31Z"},
		EventVersion:  capture.EventVersion,
	}
}

func capIn(ct, data string) *capture.Payload  { return capPayload(capture.ModeInput, ct, "", data) }
func capOut(ct, data string) *capture.Payload { return capPayload(capture.ModeOutput, ct, "", data) }

// show renders a row: name=value for named rows, value for positional ones;
// quoted values in "", nulls as <null>.
func showRow(r *monitor.Row) []string {
	var s []string
	for i, v := range r.Values {
		t := string(v.Raw)
		switch {
		case v.Null:
			t = "<null>"
		case v.Quoted:
			t = `"` + t + `"`
		}
		if r.Names != nil {
			t = r.Names[i] + "=" + t
		}
		s = append(s, t)
	}
	return s
}

func mustAssembler(tb testing.TB, o monitor.RowOptions) *monitor.Assembler {
	tb.Helper()
	a, err := monitor.NewAssembler(o)
	if err != nil {
		tb.Fatalf("NewAssembler: %v", err)
	}
	return a
}

func collectRows(a *monitor.Assembler, rec *capture.Record) ([][]string, error) {
	var rows [][]string
	err := a.Rows(rec, func(r *monitor.Row) error {
		rows = append(rows, showRow(r))
		return nil
	})
	return rows, err
}

func TestAssembler_Rows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts monitor.RowOptions
		rec  *capture.Record
		want [][]string
	}{
		{
			name: "csv positional, output first",
			rec:  capRecord(capIn("text/csv", "1,2.5,abc\n"), capOut("text/csv; charset=utf-8", "0.9")),
			want: [][]string{{"0.9", "1", "2.5", "abc"}},
		},
		{
			name: "csv several lines with crlf and blank lines",
			rec:  capRecord(capIn("text/csv", "1,2\r\n\r\n3,4\n"), capOut("text/csv", "0\n1\n")),
			want: [][]string{{"0", "1", "2"}, {"1", "3", "4"}},
		},
		{
			name: "csv empty fields are null",
			rec:  capRecord(capIn("text/csv", ",x,"), nil),
			want: [][]string{{"<null>", "x", "<null>"}},
		},
		{
			name: "csv quoting",
			rec:  capRecord(capIn("text/csv", `"a,b","say ""hi""",,"",3`+"\n"+`"multi`+"\n"+`line",x`), nil),
			want: [][]string{{"a,b", `say "hi"`, "<null>", "", "3"}, {"multi\nline", "x"}},
		},
		{
			name: "flat json by name",
			rec:  capRecord(capIn("application/json", `{"amount": 12.5, "country": "DE", "vip": true, "note": null}`), capOut("application/json", `{"score":0.1}`)),
			want: [][]string{{"score=0.1", "amount=12.5", `country="DE"`, "vip=true", "note=<null>"}},
		},
		{
			name: "json lines give several rows",
			rec:  capRecord(capIn("application/jsonlines", "{\"a\":1}\n{\"a\":2}\n"), capOut("application/jsonlines", "[0.1]\n[0.2]")),
			want: [][]string{{"_c0=0.1", "a=1"}, {"_c0=0.2", "a=2"}},
		},
		{
			name: "json array and scalar are positional",
			rec:  capRecord(capIn("application/json", `[1, "x", [2,3]]`), capOut("application/json", `7`)),
			want: [][]string{{"7", "1", `"x"`, `"[2,3]"`}},
		},
		{
			name: "json escapes",
			rec:  capRecord(capIn("application/json", `{"k\u00e9y":"a\"b\\c\n\u00e9\ud83d\ude00"}`), nil),
			want: [][]string{{"kéy=\"a\"b\\c\né😀\""}},
		},
		{
			name: "nested json by path",
			opts: monitor.RowOptions{
				Input: monitor.PayloadFormat{Columns: []monitor.Column{
					{Name: "amount", Path: "$.order.amount"},
					{Name: "first", Path: "$.features[0]"},
					{Name: "dotted", Path: `$["a.b"]`},
					{Name: "quoted", Path: `$['it\'s'][1]`},
					{Name: "missing", Path: "$.nope.deeper"},
					{Name: "whole", Path: "$.order"},
				}},
				Output: monitor.PayloadFormat{Columns: []monitor.Column{{Name: "score", Path: "$.predictions[0].score"}}},
			},
			rec: capRecord(
				capIn("application/json", `{"order":{"amount":3},"features":[5,6],"a.b":"x","it's":[0,9]}`),
				capOut("application/json", `{"predictions":[{"score":0.75}]}`)),
			want: [][]string{{"score=0.75", "amount=3", "first=5", `dotted="x"`, "quoted=9", "missing=<null>", `whole="{"amount":3}"`}},
		},
		{
			name: "csv input with json output: positional values named from Names",
			opts: monitor.RowOptions{Names: []string{"label", "f1", "f2"}},
			rec:  capRecord(capIn("text/csv", "1,2,3"), capOut("application/json", `{"label":0.5}`)),
			want: [][]string{{"label=0.5", "f1=1", "f2=2", "_c3=3"}},
		},
		{
			name: "base64 read by content type",
			rec: capRecord(capPayload(capture.ModeInput, "text/csv", capture.EncodingBase64, "4,5"),
				capPayload(capture.ModeOutput, "application/x-ndjson", capture.EncodingBase64, `{"p":1}`)),
			want: [][]string{{"p=1", "_c1=4", "_c2=5"}},
		},
		{
			name: "forced csv on a json-encoded payload",
			opts: monitor.RowOptions{Input: monitor.PayloadFormat{Format: "csv"}},
			rec:  capRecord(capIn("application/json", `1,2`), nil),
			want: [][]string{{"1", "2"}},
		},
		{
			name: "output only",
			rec:  capRecord(nil, capOut("text/csv", "0.3")),
			want: [][]string{{"0.3"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := collectRows(mustAssembler(t, tt.opts), tt.rec)
			if err != nil {
				t.Fatalf("Rows: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAssembler_RowsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rec  *capture.Record
		want string
	}{
		{"count mismatch", capRecord(capIn("text/csv", "1\n2\n"), capOut("text/csv", "0")), "row count mismatch: input has 2 rows, output 1"},
		{"empty output", capRecord(capIn("text/csv", "1"), capOut("text/csv", "")), "row count mismatch"},
		{"bad json", capRecord(capIn("application/json", `{"a":}`), nil), "input invalid json: offset 5"},
		{"unclosed quote", capRecord(capIn("text/csv", `1,"abc`), nil), "input invalid csv: line 1: quoted field is not closed"},
		{"text after quote", capRecord(capIn("text/csv", `"a"b`), nil), `unexpected 'b' after a closing quote`},
		{"unknown base64 type", capRecord(capPayload(capture.ModeInput, "image/png", capture.EncodingBase64, "xx"), nil), `input unsupported content type: "image/png"`},
		{"bad base64", capRecord(&capture.Payload{Mode: capture.ModeInput, Encoding: capture.EncodingBase64, Data: "!!"}, nil), "input invalid base64"},
		{"no payload", capRecord(nil, nil), "no payload"},
		{"deep json", capRecord(capIn("application/json", strings.Repeat("[", 600)+strings.Repeat("]", 600)), nil), "nested deeper than 512"},
	}
	a := mustAssembler(t, monitor.RowOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			err := a.Rows(tt.rec, func(*monitor.Row) error { called = true; return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Rows error = %v, want it to contain %q", err, tt.want)
			}
			if called {
				t.Error("fn was called for a record with an error")
			}
		})
	}
	t.Run("fn error is returned as is", func(t *testing.T) {
		stop := errors.New("stop")
		err := a.Rows(capRecord(capIn("text/csv", "1\n2"), nil), func(*monitor.Row) error { return stop })
		if err != stop {
			t.Fatalf("Rows error = %v, want %v", err, stop)
		}
	})
}

func TestNewAssembler_Errors(t *testing.T) {
	t.Parallel()
	col := func(name, path string) monitor.RowOptions {
		return monitor.RowOptions{Input: monitor.PayloadFormat{Columns: []monitor.Column{{Name: name, Path: path}}}}
	}
	tests := []struct {
		name string
		opts monitor.RowOptions
		want string
	}{
		{"bad format", monitor.RowOptions{Output: monitor.PayloadFormat{Format: "xml"}}, `output format: format "xml" is not auto, csv or json`},
		{"columns with csv", monitor.RowOptions{Input: monitor.PayloadFormat{Format: "csv", Columns: []monitor.Column{{Name: "a", Path: "$.a"}}}}, "columns apply to JSON payloads only"},
		{"no dollar", col("a", "a.b"), `path "a.b": offset 0: must start with $`},
		{"empty name", col("", "$.a"), "name is empty"},
		{"empty key", col("a", "$..a"), "offset 2: expected a key name after ."},
		{"unterminated bracket", col("a", "$.a["), "unterminated ["},
		{"bad index", col("a", "$[x]"), "expected an array index or a quoted key"},
		{"unterminated quote", col("a", `$["abc]`), "unterminated quoted key"},
		{"junk", col("a", "$a"), "unexpected 'a'"},
		{"duplicate", monitor.RowOptions{Input: monitor.PayloadFormat{Columns: []monitor.Column{{Name: "a", Path: "$.a"}, {Name: "a", Path: "$.b"}}}}, `name "a" is used twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := monitor.NewAssembler(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewAssembler error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func BenchmarkAssembler_RowsCSV(b *testing.B) {
	a := mustAssembler(b, monitor.RowOptions{})
	rec := capRecord(capIn("text/csv", "132,10,182.9,54,292.4,68,142.3,116,11.5,4,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,0,1,0,0,1"),
		capOut("text/csv; charset=utf-8", "0.036397725343704224"))
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Rows(rec, func(*monitor.Row) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAssembler_RowsJSON(b *testing.B) {
	a := mustAssembler(b, monitor.RowOptions{})
	rec := capRecord(capIn("application/json", `{"amount": 12.5, "country": "DE", "age": 41, "tags": "a\"b", "score": null}`),
		capOut("application/json", `{"p": 0.42}`))
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Rows(rec, func(*monitor.Row) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

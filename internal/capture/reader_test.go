package capture_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// line returns the capture line of a minimal record.
func line(tb testing.TB, id string, at time.Time) string {
	tb.Helper()
	rec := &capture.Record{
		CaptureData: capture.CaptureData{EndpointInput: &capture.Payload{
			ObservedContentType: "text/csv", Mode: capture.ModeInput, Data: "1,2", Encoding: capture.EncodingCSV,
		}},
		EventMetadata: capture.EventMetadata{EventID: id, InferenceTime: at.UTC().Format(capture.InferenceTimeLayout)},
		EventVersion:  capture.EventVersion,
	}
	var buf bytes.Buffer
	if err := capture.AppendRecord(&buf, rec); err != nil {
		tb.Fatalf("AppendRecord: %v", err)
	}
	return buf.String()
}

func hourAt(h, m, s int) time.Time { return time.Date(2024, 5, 2, h, m, s, 0, time.UTC) }

// readerBucket builds a bucket with capture objects of two endpoints (one a
// prefix of another's name), two variants and two hours, plus keys outside
// the capture layout whose content is not capture records.
func readerBucket(t *testing.T) objstore.Bucket {
	t.Helper()
	b := newBucket(t)
	put(t, b, "ep1/a/2024/05/02/13/10-00-000-x.jsonl",
		line(t, "a13-1", hourAt(13, 10, 0))+line(t, "a13-2", hourAt(13, 59, 59)))
	put(t, b, "ep1/a/2024/05/02/14/00-00-000-x.jsonl",
		line(t, "a14-1", hourAt(14, 0, 0))+"\n"+line(t, "a14-2", hourAt(14, 30, 0)))
	put(t, b, "ep1/a/2024/05/02/14/40-00-000-y.jsonl", line(t, "a14-3", hourAt(14, 40, 0)))
	put(t, b, "ep1/b/2024/05/02/14/05-00-000-x.jsonl", line(t, "b14-1", hourAt(14, 5, 0)))
	put(t, b, "ep10/a/2024/05/02/14/07-00-000-x.jsonl", line(t, "ep10-1", hourAt(14, 7, 0)))
	put(t, b, "ep2/a/2024/05/02/15/06-00-000-x.jsonl", line(t, "ep2-1", hourAt(15, 6, 0)))
	// Not capture objects: all would fail to decode if read.
	for _, k := range []string{
		"README.md",
		"ep1/notes.txt",
		"ep1/a/2024/05/02/14/manifest.json",
		"ep1/a/2024/05/02/14/x.jsonl.gz",
		"ep1/a/2024/05/xx/14/y.jsonl",
		"ep1/a/2024/13/02/14/z.jsonl",
		"ep1/a/2024/05/02/14/extra/deep.jsonl",
		"prefix/ep1/a/2024/05/02/14/w.jsonl",
	} {
		put(t, b, k, "this is not a capture record\n")
	}
	return b
}

func TestReader_Scan(t *testing.T) {
	b := readerBucket(t)
	tests := []struct {
		name string
		f    capture.Filter
		want []string
	}{
		{
			name: "everything in key order",
			f:    capture.Filter{},
			want: []string{"a13-1", "a13-2", "a14-1", "a14-2", "a14-3", "b14-1", "ep10-1", "ep2-1"},
		},
		{
			name: "endpoint is not a name prefix",
			f:    capture.Filter{Endpoint: "ep1"},
			want: []string{"a13-1", "a13-2", "a14-1", "a14-2", "a14-3", "b14-1"},
		},
		{name: "endpoint and variant", f: capture.Filter{Endpoint: "ep1", Variant: "b"}, want: []string{"b14-1"}},
		{name: "variant of every endpoint", f: capture.Filter{Variant: "a"}, want: []string{"a13-1", "a13-2", "a14-1", "a14-2", "a14-3", "ep10-1", "ep2-1"}},
		{name: "unknown endpoint", f: capture.Filter{Endpoint: "nope"}, want: nil},
		{
			name: "since is inclusive",
			f:    capture.Filter{Endpoint: "ep1", Variant: "a", Since: hourAt(14, 0, 0)},
			want: []string{"a14-1", "a14-2", "a14-3"},
		},
		{
			name: "until is exclusive",
			f:    capture.Filter{Endpoint: "ep1", Variant: "a", Until: hourAt(14, 0, 0)},
			want: []string{"a13-1", "a13-2"},
		},
		{
			name: "since inside an hour filters records of that hour",
			f:    capture.Filter{Endpoint: "ep1", Variant: "a", Since: hourAt(13, 59, 59)},
			want: []string{"a13-2", "a14-1", "a14-2", "a14-3"},
		},
		{
			name: "window inside one hour",
			f:    capture.Filter{Endpoint: "ep1", Since: hourAt(14, 0, 1), Until: hourAt(14, 40, 0)},
			want: []string{"a14-2", "b14-1"},
		},
		{
			name: "since and until equal select nothing",
			f:    capture.Filter{Since: hourAt(14, 30, 0), Until: hourAt(14, 30, 0)},
			want: nil,
		},
		{
			name: "non-utc bounds",
			f:    capture.Filter{Endpoint: "ep1", Variant: "a", Since: time.Date(2024, 5, 2, 16, 30, 0, 0, time.FixedZone("UTC+2", 2*3600))},
			want: []string{"a14-2", "a14-3"},
		},
		{
			name: "window after all data",
			f:    capture.Filter{Since: hourAt(16, 0, 0)},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, recs := scanAll(t, b, tt.f)
			if diff := cmp.Diff(tt.want, eventIDs(recs), cmpNilEmpty); diff != "" {
				t.Errorf("Scan(%+v) event ids (-want +got):\n%s", tt.f, diff)
			}
		})
	}
}

// cmpNilEmpty treats nil and empty slices as equal.
var cmpNilEmpty = cmp.FilterValues(func(x, y []string) bool { return len(x) == 0 && len(y) == 0 }, cmp.Ignore())

func TestReader_Scan_Keys(t *testing.T) {
	b := readerBucket(t)
	keys, _ := scanAll(t, b, capture.Filter{Endpoint: "ep1", Variant: "a", Since: hourAt(14, 0, 0)})
	want := []string{
		"ep1/a/2024/05/02/14/00-00-000-x.jsonl",
		"ep1/a/2024/05/02/14/00-00-000-x.jsonl",
		"ep1/a/2024/05/02/14/40-00-000-y.jsonl",
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("keys passed to fn (-want +got):\n%s", diff)
	}
}

func TestReader_Scan_CorruptLine(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		wantLine string
		wantSeen []string
	}{
		{
			name:     "not json after an empty line",
			content:  line(t, "ok-1", hourAt(14, 0, 0)) + "\n" + "{not json\n" + line(t, "ok-2", hourAt(14, 0, 1)),
			wantLine: "line 3",
			wantSeen: []string{"ok-1"},
		},
		{
			name:     "missing event id on the first line",
			content:  `{"captureData":{},"eventMetadata":{"inferenceTime":"2024-05-02T14:00:00Z"},"eventVersion":"0"}` + "\n",
			wantLine: "line 1",
		},
		{
			name:     "corrupt last line without newline",
			content:  line(t, "ok-1", hourAt(14, 0, 0)) + `{"captureData":{}`,
			wantLine: "line 2",
			wantSeen: []string{"ok-1"},
		},
	}
	const key = "ep/v/2024/05/02/14/00-00-000-x.jsonl"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBucket(t)
			put(t, b, key, tt.content)
			r := &capture.Reader{Bucket: b}
			var seen []string
			err := r.Scan(context.Background(), capture.Filter{}, func(_ string, rec *capture.Record) error {
				seen = append(seen, rec.EventMetadata.EventID)
				return nil
			})
			if !errors.Is(err, capture.ErrInvalidRecord) {
				t.Fatalf("Scan = %v, want an error wrapping ErrInvalidRecord", err)
			}
			if !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), tt.wantLine+":") {
				t.Errorf("Scan error = %q, want it to name %s and %s", err, key, tt.wantLine)
			}
			if diff := cmp.Diff(tt.wantSeen, seen); diff != "" {
				t.Errorf("records before the corrupt line (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReader_Scan_StopsOnCallbackError(t *testing.T) {
	b := readerBucket(t)
	r := &capture.Reader{Bucket: b}
	errStop := errors.New("stop")
	calls := 0
	err := r.Scan(context.Background(), capture.Filter{}, func(string, *capture.Record) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("Scan = %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("callback called %d times, want 1", calls)
	}
}

func TestReader_Scan_SageMaker(t *testing.T) {
	b := newBucketAt(t, sagemakerRoot)
	const ep = "DEMO-xgb-churn-pred-model-monitor-2022-04-18-00-13-16"
	all := []string{
		"f04a8538-696c-4648-8064-8b680b2e3318",
		"4f301857-49c9-44d1-b275-ba0ab7767033",
		"9827355a-ac22-40f4-9748-539e03db6c2a",
	}
	at := func(s int) time.Time { return time.Date(2022, 4, 18, 0, 21, s, 0, time.UTC) }
	tests := []struct {
		name string
		f    capture.Filter
		want []string
	}{
		{name: "everything", f: capture.Filter{}, want: all},
		{name: "endpoint and variant", f: capture.Filter{Endpoint: ep, Variant: "AllTraffic"}, want: all},
		{name: "since", f: capture.Filter{Since: at(49)}, want: all[1:]},
		{name: "until", f: capture.Filter{Until: at(49)}, want: all[:1]},
		{name: "other variant", f: capture.Filter{Endpoint: ep, Variant: "Canary"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, recs := scanAll(t, b, tt.f)
			if diff := cmp.Diff(tt.want, eventIDs(recs), cmpNilEmpty); diff != "" {
				t.Errorf("event ids (-want +got):\n%s", diff)
			}
			for _, k := range keys {
				if k != sagemakerKey {
					t.Errorf("key = %q, want %q", k, sagemakerKey)
				}
			}
		})
	}
}

func TestReader_Find(t *testing.T) {
	b := readerBucket(t)
	// The id "target" also appears as another record's inferenceId, which
	// must not fool Find.
	decoy := strings.Replace(line(t, "decoy", hourAt(9, 0, 0)), `"eventId":"decoy"`, `"eventId":"decoy","inferenceId":"target"`, 1)
	put(t, b, "ep0/v/2024/05/02/09/00-00-000-a.jsonl", decoy)
	put(t, b, "ep3/v/2024/05/02/09/00-00-000-b.jsonl", line(t, "target", hourAt(9, 30, 0)))
	r := &capture.Reader{Bucket: b}

	tests := []struct {
		name    string
		id      string
		wantKey string
	}{
		{name: "second line of an object", id: "a14-2", wantKey: "ep1/a/2024/05/02/14/00-00-000-x.jsonl"},
		{name: "other endpoint", id: "ep2-1", wantKey: "ep2/a/2024/05/02/15/06-00-000-x.jsonl"},
		{name: "not fooled by a matching inferenceId", id: "target", wantKey: "ep3/v/2024/05/02/09/00-00-000-b.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, key, err := r.Find(context.Background(), tt.id)
			if err != nil {
				t.Fatalf("Find(%q): %v", tt.id, err)
			}
			if rec.EventMetadata.EventID != tt.id || key != tt.wantKey {
				t.Errorf("Find(%q) = record %q in %q, want %q in %q", tt.id, rec.EventMetadata.EventID, key, tt.id, tt.wantKey)
			}
		})
	}
}

func TestReader_Find_NotFound(t *testing.T) {
	tests := []struct {
		name   string
		bucket func(t *testing.T) objstore.Bucket
		id     string
	}{
		{name: "unknown id", bucket: readerBucket, id: "no-such-event"},
		{name: "id that is only a substring", bucket: readerBucket, id: "a14"},
		{name: "empty bucket", bucket: func(t *testing.T) objstore.Bucket { return newBucket(t) }, id: "x"},
		{name: "empty id", bucket: readerBucket, id: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &capture.Reader{Bucket: tt.bucket(t)}
			rec, key, err := r.Find(context.Background(), tt.id)
			if got := glassbox.ErrorCode(err); got != glassbox.ENotFound {
				t.Errorf("Find(%q) = %+v, %q, %v; want error code %q, got %q", tt.id, rec, key, err, glassbox.ENotFound, got)
			}
			if rec != nil || key != "" {
				t.Errorf("Find(%q) = %+v, %q on error; want nil, \"\"", tt.id, rec, key)
			}
		})
	}
}

func TestReader_Find_SageMaker(t *testing.T) {
	r := &capture.Reader{Bucket: newBucketAt(t, sagemakerRoot)}
	const id = "4f301857-49c9-44d1-b275-ba0ab7767033"
	rec, key, err := r.Find(context.Background(), id)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if key != sagemakerKey {
		t.Errorf("key = %q, want %q", key, sagemakerKey)
	}
	if got, want := rec.EventMetadata.InferenceTime, "2022-04-18T00:21:49Z"; got != want {
		t.Errorf("inferenceTime = %q, want %q", got, want)
	}
	if got, want := rec.CaptureData.EndpointOutput.Data, "0.3791300654411316"; got != want {
		t.Errorf("output data = %q, want %q", got, want)
	}
}

func TestReader_Find_CorruptLine(t *testing.T) {
	// Find reads every object whose lines mention the id; a corrupt line that
	// mentions it is reported rather than silently skipped.
	b := newBucket(t)
	put(t, b, "ep/v/2024/05/02/14/00-00-000-x.jsonl", `{"eventMetadata":{"eventId":"wanted"}`+"\n")
	r := &capture.Reader{Bucket: b}
	_, _, err := r.Find(context.Background(), "wanted")
	if !errors.Is(err, capture.ErrInvalidRecord) {
		t.Errorf("Find over a corrupt line = %v, want ErrInvalidRecord", err)
	}
}

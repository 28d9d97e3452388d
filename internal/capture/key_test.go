package capture_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

func TestObjectKey(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{
			name: "sagemaker example",
			at:   time.Date(2022, 4, 18, 0, 20, 48, 871_000_000, time.UTC),
			want: "ep/v/2022/04/18/00/20-48-871-ID.jsonl",
		},
		{
			name: "millisecond is cut, not rounded",
			at:   time.Date(2022, 4, 18, 0, 20, 48, 871_999_999, time.UTC),
			want: "ep/v/2022/04/18/00/20-48-871-ID.jsonl",
		},
		{
			name: "zero padding",
			at:   time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
			want: "ep/v/2024/01/02/03/04-05-006-ID.jsonl",
		},
		{
			name: "non-utc converted to utc",
			at:   time.Date(2022, 4, 18, 2, 20, 48, 871_000_000, time.FixedZone("CEST", 2*3600)),
			want: "ep/v/2022/04/18/00/20-48-871-ID.jsonl",
		},
		{
			name: "non-utc crossing year boundary",
			at:   time.Date(2023, 1, 1, 0, 30, 0, 0, time.FixedZone("UTC+1", 3600)),
			want: "ep/v/2022/12/31/23/30-00-000-ID.jsonl",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := capture.ObjectKey("ep", "v", tt.at, "ID"); got != tt.want {
				t.Errorf("ObjectKey = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseObjectKey(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		want    capture.ObjectKeyInfo
		wantErr bool
	}{
		{
			name: "glassbox key",
			key:  "ep/v/2022/04/18/00/20-48-871-ID.jsonl",
			want: capture.ObjectKeyInfo{Endpoint: "ep", Variant: "v", Hour: time.Date(2022, 4, 18, 0, 0, 0, 0, time.UTC)},
		},
		{
			name: "sagemaker key",
			key:  sagemakerKey,
			want: capture.ObjectKeyInfo{
				Endpoint: "DEMO-xgb-churn-pred-model-monitor-2022-04-18-00-13-16", Variant: "AllTraffic",
				Hour: time.Date(2022, 4, 18, 0, 0, 0, 0, time.UTC),
			},
		},
		{
			name: "hour 23 on leap day",
			key:  "ep/v/2024/02/29/23/x.jsonl",
			want: capture.ObjectKeyInfo{Endpoint: "ep", Variant: "v", Hour: time.Date(2024, 2, 29, 23, 0, 0, 0, time.UTC)},
		},
		{name: "too shallow", key: "ep/2022/04/18/00/x.jsonl", wantErr: true},
		{name: "too deep", key: "prefix/ep/v/2022/04/18/00/x.jsonl", wantErr: true},
		{name: "empty", key: "", wantErr: true},
		{name: "year not a number", key: "ep/v/yyyy/04/18/00/x.jsonl", wantErr: true},
		{name: "hour not a number", key: "ep/v/2022/04/18/0a/x.jsonl", wantErr: true},
		{name: "empty number", key: "ep/v/2022//18/00/x.jsonl", wantErr: true},
		{name: "month 13", key: "ep/v/2022/13/18/00/x.jsonl", wantErr: true},
		{name: "month 0", key: "ep/v/2022/00/18/00/x.jsonl", wantErr: true},
		{name: "day 0", key: "ep/v/2022/04/00/00/x.jsonl", wantErr: true},
		{name: "april 31", key: "ep/v/2022/04/31/00/x.jsonl", wantErr: true},
		{name: "feb 29 in non-leap year", key: "ep/v/2023/02/29/00/x.jsonl", wantErr: true},
		{name: "hour 24", key: "ep/v/2022/04/18/24/x.jsonl", wantErr: true},
		{name: "negative hour", key: "ep/v/2022/04/18/-1/x.jsonl", wantErr: true},
		{name: "not jsonl", key: "ep/v/2022/04/18/00/x.json", wantErr: true},
		{name: "compressed", key: "ep/v/2022/04/18/00/x.jsonl.gz", wantErr: true},
		{name: "folder only", key: "ep/v/2022/04/18/00/", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := capture.ParseObjectKey(tt.key)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseObjectKey(%q) = %+v, %v; wantErr %v", tt.key, got, err, tt.wantErr)
			}
			if tt.wantErr {
				if diff := cmp.Diff(capture.ObjectKeyInfo{}, got); diff != "" {
					t.Errorf("ParseObjectKey(%q) on error returned non-zero info (-want +got):\n%s", tt.key, diff)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseObjectKey(%q) mismatch (-want +got):\n%s", tt.key, diff)
			}
		})
	}
}

func TestParseObjectKey_RoundTrip(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("UTC+5:30", 5*3600+1800), time.FixedZone("UTC-11", -11*3600)}
	start := time.Date(2023, 12, 31, 20, 0, 0, 0, time.UTC)
	for i := range 200 {
		// Step 37 minutes and a bit so hours, days, months and years roll over.
		at := start.Add(time.Duration(i) * (37*time.Minute + 1234567*time.Microsecond)).In(zones[i%len(zones)])
		key := capture.ObjectKey("ep", "var", at, "0b7bfd33-c8a7-4adf-a09a-98fd0af79974")
		info, err := capture.ParseObjectKey(key)
		if err != nil {
			t.Fatalf("ParseObjectKey(ObjectKey(%v)) = %v", at, err)
		}
		want := capture.ObjectKeyInfo{Endpoint: "ep", Variant: "var", Hour: at.UTC().Truncate(time.Hour)}
		if diff := cmp.Diff(want, info); diff != "" {
			t.Errorf("round trip of %v via %q (-want +got):\n%s", at, key, diff)
		}
	}
}

package config_test

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/glassbox-dev/glassbox/internal/config"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "60", want: time.Minute},
		{in: " 0 ", want: 0},
		{in: "+5", want: 5 * time.Second},
		{in: "9223372036", want: 9223372036 * time.Second},
		{in: "9223372037", err: "out of range"},
		{in: "99999999999999999999", err: "out of range"},
		{in: "-5s", err: "must not be negative"},
		{in: "-5", err: "must not be negative"},
		{in: "-99999999999999999999", err: "must not be negative"},
		{in: "5 minutes", err: `cannot parse "5 minutes" as a duration`},
		{in: "1.5", err: "cannot parse"},
		{in: "", err: "empty duration"},
	}
	for _, tt := range tests {
		got, err := config.ParseDuration(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseDuration(%q) error = %v, want it to contain %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || time.Duration(got) != tt.want):
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want config.ByteSize
		err  string
	}{
		{in: "6291456", want: 6291456},
		{in: "6MiB", want: 6 << 20},
		{in: "64 MiB", want: 64 << 20},
		{in: "1KiB", want: 1024},
		{in: "10MB", want: 10_000_000},
		{in: "512KB", want: 512_000},
		{in: "1GiB", want: 1 << 30},
		{in: "2TiB", want: 2 << 40},
		{in: "3TB", want: 3_000_000_000_000},
		{in: "100B", want: 100},
		{in: "100 b", want: 100},
		{in: "6mib", want: 6 << 20},
		{in: "0", want: 0},
		{in: "-0", want: 0},
		{in: "9223372036854775807", want: 1<<63 - 1},
		{in: "9223372036854775808", err: "too large"},
		{in: "8589934592GiB", err: "too large"},
		{in: "-1", err: "must not be negative"},
		{in: "-5MiB", err: "must not be negative"},
		{in: "1.5MiB", err: "cannot parse"},
		{in: "MiB", err: "cannot parse"},
		{in: "6 megabytes", err: "cannot parse"},
		{in: "", err: "cannot parse"},
	}
	for _, tt := range tests {
		got, err := config.ParseByteSize(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseByteSize(%q) error = %v, want it to contain %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestByteSize_String(t *testing.T) {
	for in, want := range map[config.ByteSize]string{
		0: "0B", 1000: "1000B", 1024: "1KiB", 6 << 20: "6MiB", 1536 << 10: "1536KiB", 1 << 40: "1TiB",
	} {
		if got := in.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(in), got, want)
		}
	}
}

func TestTypes_yamlRoundTrip(t *testing.T) {
	type doc struct {
		D config.Duration `yaml:"d"`
		B config.ByteSize `yaml:"b"`
		C config.ByteSize `yaml:"c"`
	}
	in := doc{D: config.Duration(90 * time.Second), B: 64 * config.MiB, C: 1000}
	out, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "d: 1m30s\nb: 64MiB\nc: 1000\n"; string(out) != want {
		t.Errorf("Marshal = %q, want %q", out, want)
	}
	var back doc
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back != in {
		t.Errorf("round trip = %+v, want %+v", back, in)
	}
	if err := yaml.Unmarshal([]byte("d: [1]\n"), &back); err == nil {
		t.Error("Unmarshal of a list into Duration succeeded, want error")
	}
	if err := yaml.Unmarshal([]byte("b: -1\n"), &back); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("Unmarshal of -1 into ByteSize: err = %v, want negative error", err)
	}
}

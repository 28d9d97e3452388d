package capture

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	// "aé日😀" is 1 + 2 + 3 + 4 = 10 bytes; runes start at 0, 1, 3, 6.
	const s = "aé日😀"
	tests := []struct {
		name          string
		in            string
		limit         int
		want          string
		wantTruncated bool
	}{
		{name: "under limit", in: "abc", limit: 10, want: "abc"},
		{name: "exact limit", in: "abcde", limit: 5, want: "abcde"},
		{name: "exact limit multibyte", in: s, limit: 10, want: s},
		{name: "one over ascii", in: "abcdef", limit: 5, want: "abcde", wantTruncated: true},
		{name: "empty input", in: "", limit: 0, want: ""},
		{name: "nil-like empty input positive limit", in: "", limit: 3, want: ""},
		{name: "limit 0", in: "abc", limit: 0, want: "", wantTruncated: true},
		{name: "limit 0 multibyte", in: "日本", limit: 0, want: "", wantTruncated: true},
		{name: "negative limit means no limit", in: "abc", limit: -1, want: "abc"},
		{name: "cut at rune start 1", in: s, limit: 1, want: "a", wantTruncated: true},
		{name: "cut inside 2-byte rune", in: s, limit: 2, want: "a", wantTruncated: true},
		{name: "cut at rune start 3", in: s, limit: 3, want: "aé", wantTruncated: true},
		{name: "cut inside 3-byte rune after 1", in: s, limit: 4, want: "aé", wantTruncated: true},
		{name: "cut inside 3-byte rune after 2", in: s, limit: 5, want: "aé", wantTruncated: true},
		{name: "cut at rune start 6", in: s, limit: 6, want: "aé日", wantTruncated: true},
		{name: "cut inside 4-byte rune after 1", in: s, limit: 7, want: "aé日", wantTruncated: true},
		{name: "cut inside 4-byte rune after 2", in: s, limit: 8, want: "aé日", wantTruncated: true},
		{name: "cut inside 4-byte rune after 3", in: s, limit: 9, want: "aé日", wantTruncated: true},
		{name: "cut inside first rune", in: "😀x", limit: 3, want: "", wantTruncated: true},
		{name: "invalid utf-8 continuation run cut at limit", in: "a\x80\x80\x80\x80\x80\x80", limit: 6, want: "a\x80\x80\x80\x80\x80", wantTruncated: true},
		{name: "invalid utf-8 leading continuation limit 0", in: "\x80abc", limit: 0, want: "", wantTruncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, truncated := truncate([]byte(tt.in), tt.limit)
			if string(got) != tt.want || truncated != tt.wantTruncated {
				t.Errorf("truncate(%q, %d) = %q, %v; want %q, %v", tt.in, tt.limit, got, truncated, tt.want, tt.wantTruncated)
			}
		})
	}
}

// TestTruncate_NeverCutsRune checks every limit over a text mixing rune
// widths: the result is a valid UTF-8 prefix at most limit bytes long and at
// most 3 bytes shorter.
func TestTruncate_NeverCutsRune(t *testing.T) {
	in := []byte(strings.Repeat("aé日😀", 5))
	for limit := 0; limit <= len(in)+1; limit++ {
		got, truncated := truncate(in, limit)
		if !utf8.Valid(got) {
			t.Errorf("truncate(limit %d) = %q, not valid UTF-8", limit, got)
		}
		if !bytes.HasPrefix(in, got) {
			t.Errorf("truncate(limit %d) = %q, not a prefix of the input", limit, got)
		}
		wantTruncated := limit < len(in)
		if truncated != wantTruncated {
			t.Errorf("truncate(limit %d) truncated = %v, want %v", limit, truncated, wantTruncated)
		}
		if want := min(limit, len(in)); len(got) > want || len(got) < want-(utf8.UTFMax-1) {
			t.Errorf("truncate(limit %d) length = %d, want in [%d, %d]", limit, len(got), want-(utf8.UTFMax-1), want)
		}
	}
}

func TestMediaType(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "text/csv", want: "text/csv"},
		{name: "parameters", in: "text/csv; charset=utf-8", want: "text/csv"},
		{name: "case and spaces", in: "  Application/JSON ; q=1", want: "application/json"},
		{name: "empty", in: "", want: ""},
		{name: "only parameters", in: ";charset=utf-8", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mediaType(tt.in); got != tt.want {
				t.Errorf("mediaType(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

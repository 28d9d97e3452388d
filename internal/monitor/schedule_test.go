package monitor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// at is a UTC time on 2026-03-DD.
func at(day, hour, minute int) time.Time {
	return time.Date(2026, 3, day, hour, minute, 0, 0, time.UTC)
}

// firings returns the first n scheduled times after t.
func firings(s monitor.Schedule, t time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		t = s.Next(t)
		out = append(out, t)
	}
	return out
}

func mustSchedule(t *testing.T, expr string) monitor.Schedule {
	t.Helper()
	s, err := monitor.ParseSchedule(expr)
	if err != nil {
		t.Fatalf("ParseSchedule(%q): %v", expr, err)
	}
	return s
}

func TestParseSchedule_firings(t *testing.T) {
	start := at(10, 16, 30)
	tests := []struct {
		expr   string
		want   []time.Time
		period time.Duration
	}{
		{"cron(0 * ? * * *)", []time.Time{at(10, 17, 0), at(10, 18, 0), at(10, 19, 0)}, time.Hour},
		{"0 * * * *", []time.Time{at(10, 17, 0), at(10, 18, 0), at(10, 19, 0)}, time.Hour},
		{"@hourly", []time.Time{at(10, 17, 0), at(10, 18, 0), at(10, 19, 0)}, time.Hour},
		{"cron(15 * ? * * *)", []time.Time{at(10, 17, 15), at(10, 18, 15), at(10, 19, 15)}, time.Hour},
		{"cron(0 12 ? * * *)", []time.Time{at(11, 12, 0), at(12, 12, 0), at(13, 12, 0)}, 24 * time.Hour},
		{"@daily", []time.Time{at(11, 0, 0), at(12, 0, 0), at(13, 0, 0)}, 24 * time.Hour},
		// Steps do not wrap past 23: 17/12 is 17:00 only.
		{"cron(0 17/12 ? * * *)", []time.Time{at(10, 17, 0), at(11, 17, 0), at(12, 17, 0)}, 24 * time.Hour},
		{"cron(0 5/12 ? * * *)", []time.Time{at(10, 17, 0), at(11, 5, 0), at(11, 17, 0)}, 12 * time.Hour},
		{"cron(0 0/2 ? * * *)", []time.Time{at(10, 18, 0), at(10, 20, 0), at(10, 22, 0)}, 2 * time.Hour},
		{"@every 6h", []time.Time{at(10, 18, 0), at(11, 0, 0), at(11, 6, 0)}, 6 * time.Hour},
		{"@every 1h", []time.Time{at(10, 17, 0), at(10, 18, 0), at(10, 19, 0)}, time.Hour},
		// 2026-03-10 is a Tuesday. EventBridge numbers days 1-7 from
		// Sunday: 2-6 is MON-FRI.
		{"cron(0 9 ? * 2-6 *)", []time.Time{at(11, 9, 0), at(12, 9, 0), at(13, 9, 0), at(16, 9, 0)}, 24 * time.Hour},
		{"cron(0 9 ? * MON-FRI *)", []time.Time{at(11, 9, 0), at(12, 9, 0), at(13, 9, 0), at(16, 9, 0)}, 24 * time.Hour},
		{"cron(0 9 ? * 1 *)", []time.Time{at(15, 9, 0), at(22, 9, 0)}, 7 * 24 * time.Hour}, // Sundays
		{"0 9 * * 0", []time.Time{at(15, 9, 0), at(22, 9, 0)}, 7 * 24 * time.Hour},
		{"cron(30 6 1 * ? *)", []time.Time{time.Date(2026, 4, 1, 6, 30, 0, 0, time.UTC)}, 28 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s := mustSchedule(t, tt.expr)
			got := firings(s, start, len(tt.want))
			for i := range got {
				if !got[i].Equal(tt.want[i]) {
					t.Errorf("firing %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
			if s.Period() != tt.period {
				t.Errorf("Period() = %v, want %v", s.Period(), tt.period)
			}
			if s.String() != tt.expr {
				t.Errorf("String() = %q", s.String())
			}
		})
	}
}

func TestSchedule_NextIsUTCAndStrict(t *testing.T) {
	s := mustSchedule(t, "cron(0 12 ? * * *)")
	cet := time.FixedZone("CET", 3600)
	// 12:00 UTC is 13:00 CET; a time exactly on a slot gets the next one.
	got := s.Next(time.Date(2026, 3, 10, 13, 0, 0, 0, cet))
	if want := at(11, 12, 0); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Next = %v, want %v in UTC", got, want)
	}
	e := mustSchedule(t, "@every 12h")
	if got := e.Next(at(10, 12, 0)); !got.Equal(at(11, 0, 0)) {
		t.Errorf("@every 12h Next(12:00) = %v, want next midnight", got)
	}
	if got := e.Next(time.Unix(-1, 0)); !got.Equal(time.Unix(0, 0)) {
		t.Errorf("@every before the epoch = %v", got)
	}
	var zero monitor.Schedule
	if !zero.Next(at(1, 0, 0)).IsZero() || !zero.Prev(at(1, 0, 0)).IsZero() || zero.Period() != 0 {
		t.Error("the zero Schedule fires")
	}
}

func TestSchedule_Prev(t *testing.T) {
	tests := []struct {
		expr string
		t    time.Time
		want time.Time
	}{
		{"@hourly", at(10, 16, 30), at(10, 16, 0)},
		{"@hourly", at(10, 16, 0), at(10, 16, 0)}, // at or before
		{"cron(0 12 ? * * *)", at(10, 11, 59), at(9, 12, 0)},
		{"cron(0 17/12 ? * * *)", at(10, 16, 0), at(9, 17, 0)},
		{"@every 6h", at(10, 5, 59), at(10, 0, 0)},
		{"cron(0 9 ? * MON-FRI *)", at(16, 8, 0) /* Monday */, at(13, 9, 0) /* Friday */},
	}
	for _, tt := range tests {
		if got := mustSchedule(t, tt.expr).Prev(tt.t); !got.Equal(tt.want) {
			t.Errorf("%s: Prev(%v) = %v, want %v", tt.expr, tt.t, got, tt.want)
		}
	}
}

func TestSchedule_Window(t *testing.T) {
	hourly := mustSchedule(t, "cron(0 * ? * * *)")
	daily := mustSchedule(t, "cron(0 12 ? * * *)")
	every := mustSchedule(t, "@every 6h")
	tests := []struct {
		name           string
		s              monitor.Schedule
		window, offset time.Duration
		wantStart      time.Time
		wantEnd        time.Time
	}{
		{"hourly default", hourly, 0, 0, at(10, 16, 0), at(10, 17, 0)},
		{"daily default", daily, 0, 0, at(9, 17, 0), at(10, 17, 0)},
		{"every default", every, 0, 0, at(10, 11, 0), at(10, 17, 0)},
		{"explicit window", hourly, 3 * time.Hour, 0, at(10, 14, 0), at(10, 17, 0)},
		{"offset", hourly, 0, 10 * time.Minute, at(10, 15, 50), at(10, 16, 50)},
		{"window and offset", daily, 5 * time.Hour, time.Hour, at(10, 11, 0), at(10, 16, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end := tt.s.Window(at(10, 17, 0), tt.window, tt.offset)
			if !start.Equal(tt.wantStart) || !end.Equal(tt.wantEnd) {
				t.Errorf("Window = [%v, %v), want [%v, %v)", start, end, tt.wantStart, tt.wantEnd)
			}
		})
	}
}

func TestParseSchedule_errors(t *testing.T) {
	tests := map[string]string{
		"":                      "empty schedule",
		"   ":                   "empty schedule",
		"NOW":                   "5 fields",
		"rate(1 hour)":          "5 fields",
		"* * * * *":             "minute field must be one number",
		"*/15 * * * *":          "minute field must be one number",
		"0,30 * * * *":          "minute field must be one number",
		"60 * * * *":            "minute field must be one number",
		"0 * * *":               "5 fields",
		"0 * * * * *":           "5 fields",
		"CRON_TZ=UTC 0 * * * *": "5 fields",
		"0 25 * * *":            "above maximum",
		"cron(0 * * * * *)":     `exactly one of day-of-month and day-of-week must be "?"`,
		"cron(0 * ? * ? *)":     `exactly one of day-of-month and day-of-week must be "?"`,
		"cron(0 * ? * * 2026)":  "year field must be *",
		"cron(0 * ? * *)":       "6 fields",
		"cron(0 12 L * ? *)":    "not supported",
		"cron(0 12 ? * 6#3 *)":  "not supported",
		"cron(0 12 ? * 0 *)":    "day-of-week 0 is out of range",
		"cron(0 12 ? * 8 *)":    "day-of-week 8 is out of range",
		"@weekly":               "unknown descriptor",
		"@every 90m":            "whole number of hours",
		"@every 25h":            "whole number of hours",
		"@every 0h":             "whole number of hours",
		"@every soon":           "whole number of hours",
		"0 0 30 2 *":            "never fires",
		"cron(0 0 31 FEB ? *)":  "never fires",
		"cron(0 0/30 ? * * *)":  "", // valid: 0/30 is just 00:00
	}
	for expr, want := range tests {
		_, err := monitor.ParseSchedule(expr)
		if want == "" {
			if err != nil {
				t.Errorf("ParseSchedule(%q): %v", expr, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSchedule(%q) error = %v, want it to contain %q", expr, err, want)
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"cron(0 * ? * * *)", "0 12 * * 1-5", "@every 6h", "cron(0 9 ? * 2-6 *)", "@daily"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := monitor.ParseSchedule(expr)
		if err != nil {
			return
		}
		base := at(10, 16, 30)
		n := s.Next(base)
		if !n.After(base) || s.Period() < time.Hour {
			t.Fatalf("%q: Next = %v, Period = %v", expr, n, s.Period())
		}
		if p := s.Prev(n); !p.Equal(n) {
			t.Fatalf("%q: Prev(Next) = %v, want %v", expr, p, n)
		}
	})
}

// TestParseSchedule_matchesConfig keeps config's copy of the grammar (config
// may not import monitor) in step with ParseSchedule.
func TestParseSchedule_matchesConfig(t *testing.T) {
	exprs := []string{
		"cron(0 * ? * * *)", "cron(0 12 ? * * *)", "cron(0 17/12 ? * * *)", "cron(0 0/2 ? * * *)", "cron(15 3 ? * 2-6 *)",
		"cron(0 9 ? * MON-FRI *)", "cron(0 9 ? * 1,7 *)", "cron(0 9 ? * 2/2 *)", "cron(30 6 1 * ? *)", "cron(0 0 1 JAN ? *)",
		"0 * * * *", "15 */3 * * *", "0 9 * * 1-5", "0 0 1 * *", "@hourly", "@daily", "@midnight", "@every 1h", "@every 24h",
		"", "* * * * *", "*/5 * * * *", "@weekly", "@every 90m", "@every 48h", "cron(0 * * * * *)", "cron(0 * ? * * 2026)",
		"cron(0 9 ? * 0 *)", "cron(0 9 ? * 8 *)", "cron(0 0 L * ? *)", "cron(0 12 ? * 6#3 *)", "0 0 30 2 *", "0 * * *",
		"0 25 * * *", "CRON_TZ=UTC 0 * * * *", "rate(1 hour)",
	}
	for _, e := range exprs {
		s, mErr := monitor.ParseSchedule(e)
		p, cErr := config.SchedulePeriod(e)
		if (mErr == nil) != (cErr == nil) {
			t.Errorf("%q: monitor error %v, config error %v", e, mErr, cErr)
			continue
		}
		if mErr == nil && s.Period() != p {
			t.Errorf("%q: monitor period %v, config period %v", e, s.Period(), p)
		}
	}
}

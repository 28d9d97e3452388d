package monitor

// This file parses schedule expressions. Every schedule runs in UTC.
//
// Accepted forms (ParseSchedule):
//
//	cron(M H DOM MON DOW YEAR)  SageMaker / EventBridge: six fields, exactly one
//	                            of DOM and DOW is "?", YEAR must be "*", DOW
//	                            numbers are 1-7 = SUN-SAT (names SUN-SAT work too)
//	M H DOM MON DOW             standard five-field cron, DOW 0-6 = SUN-SAT
//	@hourly                     0 * * * *
//	@daily, @midnight           0 0 * * *
//	@every Nh                   every N whole hours, 1 <= N <= 24, aligned to
//	                            the Unix epoch (so @every 6h fires at 00, 06,
//	                            12 and 18 UTC on every host)
//
// The minute field must be one number (0-59). SageMaker requires 0; Glassbox
// allows any minute but never more than one run an hour, which is
// SageMaker's finest rate. Step fields follow cron semantics and do not wrap
// past the end of their range: cron(0 17/12 ? * * *), which SageMaker's SDK
// calls "every 12 hours from 17", fires once a day at 17:00 (17+12 is past
// 23); write cron(0 5/12 ? * * *) for 05:00 and 17:00. The L, W and # cron
// extensions, time-zone prefixes and year restrictions are not supported.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MaxScheduleWindow is the longest analysis window a schedule or a manual
// run may cover. SageMaker allows 24 hours; Glassbox reads capture objects
// hour by hour and allows a week.
const MaxScheduleWindow = 7 * 24 * time.Hour

// cronFields parses the five standard fields (no descriptors: ParseSchedule
// translates the ones it accepts).
var cronFields = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Schedule is a parsed schedule expression. The zero Schedule never fires.
type Schedule struct {
	expr   string        // as given, trimmed
	spec   cron.Schedule // nil for @every
	every  time.Duration // > 0 for @every
	period time.Duration
}

// ParseSchedule parses a schedule expression (see the forms above). Errors
// say what is wrong with the expression, for a person.
func ParseSchedule(expr string) (Schedule, error) {
	e := strings.TrimSpace(expr)
	s := Schedule{expr: e}
	var fields string
	switch {
	case e == "":
		return Schedule{}, errors.New("empty schedule expression: want cron(0 * ? * * *), a five-field cron expression, @hourly, @daily or @every Nh")
	case strings.HasPrefix(e, "@"):
		d, err := descriptor(e)
		if err != nil {
			return Schedule{}, err
		}
		if d.every > 0 {
			s.every, s.period = d.every, d.every
			return s, nil
		}
		fields = d.fields
	case strings.HasPrefix(strings.ToLower(e), "cron(") && strings.HasSuffix(e, ")"):
		f, err := fromSageMaker(e[len("cron(") : len(e)-1])
		if err != nil {
			return Schedule{}, fmt.Errorf("schedule %q: %w", e, err)
		}
		fields = f
	default:
		if n := len(strings.Fields(e)); n != 5 {
			return Schedule{}, fmt.Errorf("schedule %q: a cron expression has 5 fields (minute hour day-of-month month day-of-week), got %d; SageMaker's six-field form is written cron(0 * ? * * *)", e, n)
		}
		fields = e
	}
	minute := strings.Fields(fields)[0]
	if n, err := strconv.Atoi(minute); err != nil || n < 0 || n > 59 {
		return Schedule{}, fmt.Errorf("schedule %q: the minute field must be one number from 0 to 59 (at most one run an hour), got %q", e, minute)
	}
	spec, err := cronFields.Parse(fields)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: %w", e, err)
	}
	s.spec = spec
	if s.period, err = shortestGap(spec); err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: %w", e, err)
	}
	return s, nil
}

// parsedDescriptor is what an @ expression stands for.
type parsedDescriptor struct {
	fields string
	every  time.Duration
}

// descriptor translates the accepted @ expressions.
func descriptor(e string) (parsedDescriptor, error) {
	switch strings.ToLower(e) {
	case "@hourly":
		return parsedDescriptor{fields: "0 * * * *"}, nil
	case "@daily", "@midnight":
		return parsedDescriptor{fields: "0 0 * * *"}, nil
	}
	rest, ok := strings.CutPrefix(strings.ToLower(e), "@every ")
	if !ok {
		return parsedDescriptor{}, fmt.Errorf("schedule %q: unknown descriptor; want @hourly, @daily or @every Nh", e)
	}
	d, err := time.ParseDuration(strings.TrimSpace(rest))
	if err != nil || d%time.Hour != 0 || d < time.Hour || d > 24*time.Hour {
		return parsedDescriptor{}, fmt.Errorf("schedule %q: @every takes a whole number of hours from 1h to 24h", e)
	}
	return parsedDescriptor{every: d}, nil
}

// fromSageMaker translates the inside of cron(...) into five standard
// fields.
func fromSageMaker(inner string) (string, error) {
	f := strings.Fields(inner)
	if len(f) != 6 {
		return "", fmt.Errorf("cron(...) has 6 fields (minute hour day-of-month month day-of-week year), got %d", len(f))
	}
	min, hour, dom, mon, dow, year := f[0], f[1], f[2], f[3], f[4], f[5]
	if year != "*" {
		return "", fmt.Errorf("the year field must be *, got %q", year)
	}
	if (dom == "?") == (dow == "?") {
		return "", errors.New(`exactly one of day-of-month and day-of-week must be "?"`)
	}
	for _, x := range []string{min, hour, dom, mon, dow} {
		if strings.ContainsAny(strings.ToUpper(x), "LW#") && !isDayName(x) {
			return "", fmt.Errorf("the L, W and # extensions are not supported (field %q)", x)
		}
	}
	dow, err := shiftDOW(dow)
	if err != nil {
		return "", err
	}
	return strings.Join([]string{min, hour, dom, mon, dow}, " "), nil
}

// isDayName reports whether x is made of day or month names, lists, ranges
// and steps only (names such as WED contain W; JUL contains L).
func isDayName(x string) bool {
	for _, part := range strings.FieldsFunc(strings.ToUpper(x), func(r rune) bool { return r == ',' || r == '-' || r == '/' }) {
		if _, err := strconv.Atoi(part); err == nil || part == "*" {
			continue
		}
		if len(part) != 3 || strings.IndexFunc(part, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
			return false
		}
	}
	return true
}

// shiftDOW turns EventBridge day-of-week numbers (1-7 = SUN-SAT) into
// standard ones (0-6); names, * and ? pass through.
func shiftDOW(dow string) (string, error) {
	var b strings.Builder
	num := ""
	flush := func(stepped bool) error {
		if num == "" {
			return nil
		}
		n, _ := strconv.Atoi(num)
		switch {
		case stepped:
			b.WriteString(num) // a step is a count, not a day
		case n < 1 || n > 7:
			return fmt.Errorf("day-of-week %d is out of range: cron(...) numbers days 1-7 (SUN-SAT)", n)
		default:
			b.WriteString(strconv.Itoa(n - 1))
		}
		num = ""
		return nil
	}
	stepped := false
	for _, r := range dow {
		if r >= '0' && r <= '9' {
			num += string(r)
			continue
		}
		if err := flush(stepped); err != nil {
			return "", err
		}
		stepped = r == '/'
		if r == ',' {
			stepped = false
		}
		b.WriteRune(r)
	}
	if err := flush(stepped); err != nil {
		return "", err
	}
	return b.String(), nil
}

// periodReference is where shortestGap starts looking: a Monday at 00:00
// UTC in a leap year.
var periodReference = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// shortestGap returns the shortest interval between consecutive firings of
// spec, over its first 400 firings or 4 years, whichever comes first.
func shortestGap(spec cron.Schedule) (time.Duration, error) {
	prev := spec.Next(periodReference.Add(-time.Second))
	if prev.IsZero() {
		return 0, errors.New("it never fires")
	}
	limit := periodReference.AddDate(4, 0, 0)
	var gap time.Duration
	for i := 0; i < 400 && prev.Before(limit); i++ {
		next := spec.Next(prev)
		if next.IsZero() {
			break
		}
		if d := next.Sub(prev); gap == 0 || d < gap {
			gap = d
		}
		prev = next
	}
	if gap == 0 {
		return 0, errors.New("it fires too rarely (less than twice in 4 years)")
	}
	return gap, nil
}

// String returns the expression as parsed (trimmed).
func (s Schedule) String() string { return s.expr }

// Period returns the shortest interval between two consecutive runs: 1h
// for hourly, 24h for daily, N hours for @every Nh. It is the default
// analysis window. Zero for the zero Schedule.
func (s Schedule) Period() time.Duration { return s.period }

// Next returns the first scheduled time strictly after t, in UTC; the zero
// time for the zero Schedule.
func (s Schedule) Next(t time.Time) time.Time {
	t = t.UTC()
	switch {
	case s.every > 0:
		step := int64(s.every / time.Second)
		n := t.Unix()/step*step + step
		if t.Unix() < 0 && t.Unix()%step != 0 {
			n -= step // integer division rounds towards zero
		}
		return time.Unix(n, 0).UTC()
	case s.spec != nil:
		return s.spec.Next(t).UTC()
	}
	return time.Time{}
}

// Prev returns the latest scheduled time at or before t, in UTC, or the
// zero time when there is none in the 8 years before t.
func (s Schedule) Prev(t time.Time) time.Time {
	t = t.UTC()
	if s.period <= 0 {
		return time.Time{}
	}
	for d := s.period; d <= 8*366*24*time.Hour; d *= 2 {
		f := s.Next(t.Add(-d))
		if f.IsZero() || f.After(t) {
			continue
		}
		for {
			g := s.Next(f)
			if g.IsZero() || g.After(t) {
				return f
			}
			f = g
		}
	}
	return time.Time{}
}

// Window returns the analysis window of the run scheduled at scheduled:
// [scheduled-offset-window, scheduled-offset). A window of 0 means the
// schedule's Period.
func (s Schedule) Window(scheduled time.Time, window, offset time.Duration) (start, end time.Time) {
	if window <= 0 {
		window = s.period
	}
	end = scheduled.UTC().Add(-offset)
	return end.Add(-window), end
}

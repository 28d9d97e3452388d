package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Row formats, the values allowed in RowAssembly.Format.
const (
	FormatAuto = "auto" // by each record's content type
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// Drift methods, the values allowed in FeatureDrift.Method.
var DriftMethods = []string{"ks", "chisquare", "psi", "jensenshannon", "wasserstein"}

// ReservedEndpointName is the endpoint name that would collide with the
// default report prefix in the blob store; names starting with "_" are
// reserved too (digests and other internal prefixes).
const ReservedEndpointName = "reports"

// Monitor configures model monitoring of one endpoint (endpoints[].monitor):
// the baseline captured data is compared with, how rows are assembled from
// capture records, drift rules, and the schedules that run the comparison.
type Monitor struct {
	// Baseline locates statistics.json and constraints.json: a directory
	// path (relative to the working directory), a file:// URL or an s3://
	// URL. Required when Schedules is not empty.
	Baseline string `yaml:"baseline"`
	// Input assembles a row from each request payload. Default format auto,
	// no columns (every top-level field or CSV column is a feature).
	Input RowAssembly `yaml:"input"`
	// Output assembles a row from each response payload; same defaults.
	Output RowAssembly `yaml:"output"`
	// Drift sets drift methods and thresholds.
	Drift Drift `yaml:"drift"`
	// Schedules run the monitor periodically. Default none.
	Schedules []MonitorSchedule `yaml:"schedules"`
}

// RowAssembly says how a payload becomes a row of named features.
type RowAssembly struct {
	// Format is auto (by content type), csv or json. Default auto.
	Format string `yaml:"format"`
	// Columns picks features by path: a JSONPath starting with "$" for
	// JSON payloads ($.applicant.age), in this order; CSV payloads are
	// always read by position, so columns do not apply to them. Default
	// none: every top-level field of a JSON object, every CSV column.
	Columns []Column `yaml:"columns"`
}

// Column is one feature of a row.
type Column struct {
	// Name is the feature name in reports and metrics. Required, unique.
	Name string `yaml:"name"`
	// Path locates the value (see RowAssembly.Columns). Required.
	Path string `yaml:"path"`
}

// Drift configures drift detection.
type Drift struct {
	// ShareThreshold is the share of features that must drift for the
	// data set as a whole to count as drifted. Default 0.5; 0 < x <= 1.
	ShareThreshold float64 `yaml:"share_threshold"`
	// Features overrides the method and threshold per feature name.
	Features map[string]FeatureDrift `yaml:"features"`
}

// FeatureDrift is one feature's drift rule.
type FeatureDrift struct {
	// Method is ks, chisquare, psi, jensenshannon or wasserstein. Required.
	Method string `yaml:"method"`
	// Threshold is the distance above which the feature has drifted.
	// Required; a finite number > 0.
	Threshold float64 `yaml:"threshold"`
}

// MonitorSchedule is one schedule of an endpoint's monitor.
type MonitorSchedule struct {
	// Name identifies the schedule in reports, metrics and the API.
	// Required; SageMaker's rule (letters, digits, hyphens, at most 63);
	// unique within the endpoint.
	Name string `yaml:"name"`
	// Cron is when it runs, in UTC: SageMaker's cron(0 * ? * * *), a
	// five-field cron expression, @hourly, @daily or @every Nh (1-24). The
	// minute field must be a single number. Required.
	Cron string `yaml:"cron"`
	// Window is how much data each run covers, ending at the scheduled
	// time minus Offset. Default 0, meaning the schedule's period (1h
	// hourly, 24h daily, Nh for every N hours); at most 168h.
	Window Duration `yaml:"window"`
	// Offset moves the window back from the scheduled time, e.g. to wait
	// for late capture uploads. Default 0; at most 168h.
	Offset Duration `yaml:"offset"`
}

// Monitoring holds the settings shared by every endpoint's monitor.
type Monitoring struct {
	// ReportsPrefix is the blob-store prefix that monitoring reports are
	// written under. Default "reports"; its first segment must be "reports"
	// or start with "_" so that it cannot collide with an endpoint's
	// capture objects.
	ReportsPrefix string `yaml:"reports_prefix"`
	// Webhooks receive executions that found violations or failed.
	Webhooks []Webhook `yaml:"webhooks"`
}

// Webhook is one receiver of monitoring notifications.
type Webhook struct {
	// Name identifies the webhook in logs. Required, unique.
	Name string `yaml:"name"`
	// URL is an absolute http or https URL. Required.
	URL string `yaml:"url"`
	// Secret signs each delivery (X-Glassbox-Signature, see
	// docs/alerts.md); write it as ${ENV_VAR}. Default "" (unsigned).
	Secret string `yaml:"secret"`
	// Timeout bounds one attempt. Default 10s; > 0 and <= 5m.
	Timeout Duration `yaml:"timeout"`
	// MaxAttempts bounds the attempts of one delivery (network errors,
	// 5xx and 429 are retried with exponential back-off). Default 5; 1 to
	// 20.
	MaxAttempts int `yaml:"max_attempts"`
}

// Limits of the monitor settings.
const (
	maxMonitorWindow     = Duration(7 * 24 * time.Hour) // monitor.MaxScheduleWindow
	maxWebhookTimeout    = Duration(5 * time.Minute)
	maxWebhookAttempts   = 20
	defaultShareThresh   = 0.5
	defaultWebhookTries  = 5
	defaultWebhookTimout = Duration(10 * time.Second)
)

// DefaultMonitor returns the monitor block every endpoint starts from.
func DefaultMonitor() Monitor {
	return Monitor{
		Input:  RowAssembly{Format: FormatAuto},
		Output: RowAssembly{Format: FormatAuto},
		Drift:  Drift{ShareThreshold: defaultShareThresh},
	}
}

// DefaultWebhook returns the values each element of monitoring.webhooks
// starts from.
func DefaultWebhook() Webhook {
	return Webhook{Timeout: defaultWebhookTimout, MaxAttempts: defaultWebhookTries}
}

// applyDefaults fills the zero fields of a monitor built in code.
func (m *Monitor) applyDefaults() {
	if m.Input.Format == "" {
		m.Input.Format = FormatAuto
	}
	if m.Output.Format == "" {
		m.Output.Format = FormatAuto
	}
	if m.Drift.ShareThreshold == 0 {
		m.Drift.ShareThreshold = defaultShareThresh
	}
}

// checkEndpointNameReserved reports endpoint names that collide with blob
// store prefixes.
func checkEndpointNameReserved(ps *problems, path, name string) {
	if strings.EqualFold(name, ReservedEndpointName) || strings.HasPrefix(name, "_") {
		ps.add(path, "name %s is reserved: it collides with the blob store's report and digest prefixes", quote(name))
	}
}

func (m *Monitor) validate(ps *problems, path string) {
	if len(m.Schedules) > 0 && strings.TrimSpace(m.Baseline) == "" {
		ps.add(path+".baseline", "is required when schedules are set: a directory, file:// or s3:// URL holding statistics.json and constraints.json")
	}
	if m.Baseline != "" {
		if err := checkBaseline(m.Baseline); err != nil {
			ps.add(path+".baseline", "%v", err)
		}
	}
	m.Input.validate(ps, path+".input")
	m.Output.validate(ps, path+".output")
	if t := m.Drift.ShareThreshold; math.IsNaN(t) || t <= 0 || t > 1 {
		ps.add(path+".drift.share_threshold", "must be greater than 0 and at most 1, got %v", t)
	}
	for _, name := range sortedKeys(m.Drift.Features) {
		f := m.Drift.Features[name]
		p := joinKey(path+".drift.features", name)
		if strings.TrimSpace(name) == "" {
			ps.add(p, "feature names must not be empty")
		}
		oneOf(ps, p+".method", f.Method, DriftMethods...)
		if math.IsNaN(f.Threshold) || math.IsInf(f.Threshold, 0) || f.Threshold <= 0 {
			ps.add(p+".threshold", "must be a finite number greater than 0, got %v", f.Threshold)
		}
	}
	names := map[string]int{}
	for i, s := range m.Schedules {
		p := fmt.Sprintf("%s.schedules[%d]", path, i)
		checkName(ps, p+".name", s.Name)
		if j, dup := names[s.Name]; dup && s.Name != "" {
			ps.add(p+".name", "duplicate schedule name %s (also %s.schedules[%d].name)", quote(s.Name), path, j)
		} else {
			names[s.Name] = i
		}
		period, err := SchedulePeriod(s.Cron)
		if err != nil {
			ps.add(p+".cron", "%v", err)
		}
		switch {
		case s.Window > maxMonitorWindow:
			ps.add(p+".window", "must be at most %v, got %v", maxMonitorWindow, s.Window)
		case s.Window == 0 && err == nil && Duration(period) > maxMonitorWindow:
			ps.add(p+".window", "the schedule runs every %v, longer than the maximum window %v: set a window", period, maxMonitorWindow)
		}
		if s.Offset > maxMonitorWindow {
			ps.add(p+".offset", "must be at most %v, got %v", maxMonitorWindow, s.Offset)
		}
	}
}

func (r *RowAssembly) validate(ps *problems, path string) {
	oneOf(ps, path+".format", r.Format, FormatAuto, FormatCSV, FormatJSON)
	seen := map[string]int{}
	for i, c := range r.Columns {
		p := fmt.Sprintf("%s.columns[%d]", path, i)
		if strings.TrimSpace(c.Name) == "" {
			ps.add(p+".name", "is required")
		} else if j, dup := seen[c.Name]; dup {
			ps.add(p+".name", "duplicate column %s (also %s.columns[%d])", quote(c.Name), path, j)
		} else {
			seen[c.Name] = i
		}
		switch {
		case c.Path == "":
			ps.add(p+".path", "is required: a JSONPath such as $.applicant.age")
		case r.Format == FormatCSV:
			ps.add(p+".path", "columns apply to JSON payloads only: CSV payloads are read by position, matched to the baseline's features in order")
		case !strings.HasPrefix(c.Path, "$"):
			ps.add(p+".path", "invalid path %s: a column is a JSONPath starting with $ (e.g. $.applicant.age)", quote(c.Path))
		}
	}
}

// checkBaseline checks a baseline location.
func checkBaseline(b string) error {
	scheme, rest, ok := strings.Cut(b, "://")
	if !ok {
		return nil // a plain directory path
	}
	switch strings.ToLower(scheme) {
	case BlobSchemeFile:
		_, err := filePath(rest)
		return err
	case BlobSchemeS3:
		_, _, err := s3Location(rest)
		return err
	}
	return fmt.Errorf("unsupported baseline %s: want a directory, a file:// URL or an s3:// URL", quote(b))
}

func (m *Monitoring) validate(ps *problems) {
	p := m.ReportsPrefix
	first, _, _ := strings.Cut(p, "/")
	switch {
	case p == "":
		ps.add("monitoring.reports_prefix", "must not be empty")
	case strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/"):
		ps.add("monitoring.reports_prefix", "must not start or end with /, got %s", quote(p))
	case first != ReservedEndpointName && !strings.HasPrefix(first, "_"):
		ps.add("monitoring.reports_prefix", "must start with %q or with _ so that reports cannot collide with an endpoint's capture objects, got %s", ReservedEndpointName, quote(p))
	default:
		if err := checkPrefix(p); err != nil {
			ps.add("monitoring.reports_prefix", "%v", err)
		}
	}
	names := map[string]int{}
	for i, w := range m.Webhooks {
		wp := fmt.Sprintf("monitoring.webhooks[%d]", i)
		checkName(ps, wp+".name", w.Name)
		if j, dup := names[w.Name]; dup && w.Name != "" {
			ps.add(wp+".name", "duplicate webhook name %s (also monitoring.webhooks[%d].name)", quote(w.Name), j)
		} else {
			names[w.Name] = i
		}
		if w.URL == "" {
			ps.add(wp+".url", "is required")
		} else if err := checkWebhookURL(w.URL); err != nil {
			ps.add(wp+".url", "%v", err)
		}
		switch {
		case w.Timeout <= 0:
			positive(ps, wp+".timeout", w.Timeout)
		case w.Timeout > maxWebhookTimeout:
			ps.add(wp+".timeout", "must be at most %v, got %v", maxWebhookTimeout, w.Timeout)
		}
		if w.MaxAttempts < 1 || w.MaxAttempts > maxWebhookAttempts {
			ps.add(wp+".max_attempts", "must be between 1 and %d, got %d", maxWebhookAttempts, w.MaxAttempts)
		}
	}
}

// checkWebhookURL checks a webhook URL: absolute http or https with a
// host; unlike upstreams, a query is allowed (receivers use it for keys).
func checkWebhookURL(raw string) error {
	base, _, _ := strings.Cut(raw, "?")
	return checkHTTPURL(base)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ---- schedule expressions ----
//
// config may not import monitor, which owns schedules; this is the same
// grammar, checked here so that a bad expression is a config problem with
// a path. TestSchedulePeriod_matchesMonitor keeps the two in step.

// scheduleFields parses five standard cron fields.
var scheduleFields = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// sageMakerDOW matches a day-of-week number of cron(...).
var sageMakerDOW = regexp.MustCompile(`\d+`)

// SchedulePeriod checks a schedule expression (see MonitorSchedule.Cron)
// and returns the shortest interval between its runs.
func SchedulePeriod(expr string) (time.Duration, error) {
	e := strings.TrimSpace(expr)
	fields := e
	switch lower := strings.ToLower(e); {
	case e == "":
		return 0, errors.New("is required: cron(0 * ? * * *), a five-field cron expression, @hourly, @daily or @every Nh")
	case lower == "@hourly":
		return time.Hour, nil
	case lower == "@daily" || lower == "@midnight":
		return 24 * time.Hour, nil
	case strings.HasPrefix(lower, "@every "):
		d, err := time.ParseDuration(strings.TrimSpace(lower[len("@every "):]))
		if err != nil || d%time.Hour != 0 || d < time.Hour || d > 24*time.Hour {
			return 0, fmt.Errorf("invalid schedule %s: @every takes a whole number of hours from 1h to 24h", quote(e))
		}
		return d, nil
	case strings.HasPrefix(lower, "@"):
		return 0, fmt.Errorf("invalid schedule %s: want @hourly, @daily or @every Nh", quote(e))
	case strings.HasPrefix(lower, "cron(") && strings.HasSuffix(e, ")"):
		f := strings.Fields(e[len("cron(") : len(e)-1])
		if len(f) != 6 {
			return 0, fmt.Errorf("invalid schedule %s: cron(...) has 6 fields (minute hour day-of-month month day-of-week year)", quote(e))
		}
		if f[5] != "*" {
			return 0, fmt.Errorf("invalid schedule %s: the year field must be *", quote(e))
		}
		if (f[2] == "?") == (f[4] == "?") {
			return 0, fmt.Errorf(`invalid schedule %s: exactly one of day-of-month and day-of-week must be "?"`, quote(e))
		}
		if strings.Contains(f[4], "#") || strings.Contains(strings.ToUpper(f[2]), "L") || strings.Contains(strings.ToUpper(f[2]), "W") {
			return 0, fmt.Errorf("invalid schedule %s: the L, W and # extensions are not supported", quote(e))
		}
		var bad error
		dow := f[4]
		if !strings.Contains(dow, "/") {
			dow = sageMakerDOW.ReplaceAllStringFunc(dow, func(s string) string {
				n, _ := strconv.Atoi(s)
				if n < 1 || n > 7 {
					bad = fmt.Errorf("invalid schedule %s: cron(...) numbers days of the week 1-7 (SUN-SAT)", quote(e))
				}
				return strconv.Itoa(n - 1)
			})
		} else {
			start, step, _ := strings.Cut(dow, "/")
			if n, err := strconv.Atoi(start); err == nil {
				if n < 1 || n > 7 {
					bad = fmt.Errorf("invalid schedule %s: cron(...) numbers days of the week 1-7 (SUN-SAT)", quote(e))
				}
				dow = strconv.Itoa(n-1) + "/" + step
			}
		}
		if bad != nil {
			return 0, bad
		}
		fields = strings.Join([]string{f[0], f[1], f[2], f[3], dow}, " ")
	default:
		if len(strings.Fields(e)) != 5 {
			return 0, fmt.Errorf("invalid schedule %s: a cron expression has 5 fields (minute hour day-of-month month day-of-week); SageMaker's six-field form is written cron(0 * ? * * *)", quote(e))
		}
	}
	minute := strings.Fields(fields)[0]
	if n, err := strconv.Atoi(minute); err != nil || n < 0 || n > 59 {
		return 0, fmt.Errorf("invalid schedule %s: the minute field must be one number from 0 to 59 (at most one run an hour)", quote(e))
	}
	s, err := scheduleFields.Parse(fields)
	if err != nil {
		return 0, fmt.Errorf("invalid schedule %s: %v", quote(e), err)
	}
	ref := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := s.Next(ref.Add(-time.Second))
	var gap time.Duration
	for i := 0; i < 400 && !prev.IsZero() && prev.Before(ref.AddDate(4, 0, 0)); i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		if d := next.Sub(prev); gap == 0 || d < gap {
			gap = d
		}
		prev = next
	}
	if gap == 0 {
		return 0, fmt.Errorf("invalid schedule %s: it never fires, or less than twice in 4 years", quote(e))
	}
	return gap, nil
}

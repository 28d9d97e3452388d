package monitor_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/monitor"
)

func driftReportOf(t *testing.T, base, cur *monitor.Profile, opts monitor.DriftOptions) *monitor.DriftReport {
	t.Helper()
	_, d, err := monitor.Check(&base.Statistics, nil, cur, monitor.CheckOptions{Drift: opts})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return d
}

func TestDrift_Methods(t *testing.T) {
	t.Parallel()
	names := []string{"x"}
	num := func(n int, seed uint64, mean float64) *monitor.Profile {
		return mustProfileValues(t, names, genColumn(n, seed, genNormal(mean, 2)))
	}
	cat := func(n int, seed uint64, pDE float64) *monitor.Profile {
		return mustProfileValues(t, names, genColumn(n, seed, genPick([]string{"DE", "FR", "IT"}, []float64{pDE, (1 - pDE) / 2})))
	}
	tests := []struct {
		name                string
		base, same, shifted *monitor.Profile
		method              string // "" tests the default choice
		wantMethod, wantTyp string
	}{
		{"default small numeric is ks", num(800, 1, 10), num(300, 2, 10), num(300, 3, 11.5), "", monitor.DriftMethodKS, monitor.DriftTypeNumerical},
		{"default large numeric is wasserstein", num(3000, 1, 10), num(3000, 2, 10), num(3000, 3, 11), "", monitor.DriftMethodWasserstein, monitor.DriftTypeNumerical},
		{"large baseline small window numeric is ks", num(3000, 1, 10), num(300, 2, 10), num(300, 3, 11.5), "", monitor.DriftMethodKS, monitor.DriftTypeNumerical},
		{"default small categorical is chisquare", cat(800, 1, 0.5), cat(300, 2, 0.5), cat(300, 3, 0.2), "", monitor.DriftMethodChiSquare, monitor.DriftTypeCategorical},
		{"default large categorical is jensenshannon", cat(3000, 1, 0.5), cat(3000, 2, 0.5), cat(3000, 3, 0.2), "", monitor.DriftMethodJensenShannon, monitor.DriftTypeCategorical},
		{"large baseline small window categorical is chisquare", cat(3000, 1, 0.5), cat(300, 2, 0.5), cat(300, 3, 0.2), "", monitor.DriftMethodChiSquare, monitor.DriftTypeCategorical},
		{"psi numeric", num(3000, 1, 10), num(1000, 2, 10), num(1000, 3, 11), monitor.DriftMethodPSI, monitor.DriftMethodPSI, monitor.DriftTypeNumerical},
		{"jensenshannon numeric", num(3000, 1, 10), num(3000, 2, 10), num(3000, 3, 11.5), monitor.DriftMethodJensenShannon, monitor.DriftMethodJensenShannon, monitor.DriftTypeNumerical},
		{"chisquare numeric", num(3000, 1, 10), num(500, 2, 10), num(500, 3, 11), monitor.DriftMethodChiSquare, monitor.DriftMethodChiSquare, monitor.DriftTypeNumerical},
		{"ks large numeric", num(3000, 1, 10), num(500, 2, 10), num(500, 3, 10.7), monitor.DriftMethodKS, monitor.DriftMethodKS, monitor.DriftTypeNumerical},
		{"wasserstein small numeric", num(500, 1, 10), num(500, 2, 10), num(500, 3, 11), monitor.DriftMethodWasserstein, monitor.DriftMethodWasserstein, monitor.DriftTypeNumerical},
		{"psi categorical", cat(3000, 1, 0.5), cat(1000, 2, 0.5), cat(1000, 3, 0.3), monitor.DriftMethodPSI, monitor.DriftMethodPSI, monitor.DriftTypeCategorical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := monitor.DriftOptions{}
			if tt.method != "" {
				opts.Features = map[string]monitor.DriftTest{"x": {Method: tt.method}}
			}
			for _, c := range []struct {
				cur  *monitor.Profile
				want bool
			}{{tt.same, false}, {tt.shifted, true}} {
				d := driftReportOf(t, tt.base, c.cur, opts)
				if len(d.Features) != 1 {
					t.Fatalf("features = %+v", d.Features)
				}
				f := d.Features[0]
				if f.Method != tt.wantMethod || f.Type != tt.wantTyp || f.Drifted != c.want || f.Note != "" {
					t.Errorf("want method %s, type %s, drifted %v; got %+v (p %v)", tt.wantMethod, tt.wantTyp, c.want, f, f.PValue)
				}
				if (f.PValue != nil) != (f.Method == monitor.DriftMethodKS || f.Method == monitor.DriftMethodChiSquare) {
					t.Errorf("p_value set = %v for %s", f.PValue != nil, f.Method)
				}
			}
		})
	}
}

func TestDrift_NumericWithFewValuesIsCategorical(t *testing.T) {
	t.Parallel()
	names := []string{"flag"}
	rowsOf := func(n int, seed uint64, p0 float64) [][]any {
		rows := genColumn(n, seed, genPick([]string{"0", "1"}, []float64{p0}))
		for _, r := range rows {
			if r[0] == "0" {
				r[0] = 0
			} else {
				r[0] = 1
			}
		}
		return rows
	}
	base := mustProfileValues(t, names, rowsOf(500, 1, 0.7))
	d := driftReportOf(t, base, mustProfileValues(t, names, rowsOf(400, 2, 0.3)), monitor.DriftOptions{})
	if f := d.Features[0]; f.Type != monitor.DriftTypeCategorical || f.Method != monitor.DriftMethodChiSquare || !f.Drifted || f.BaselineCount != 500 || f.CurrentCount != 400 {
		t.Errorf("feature = %+v", f)
	}
}

func TestDrift_ShareAndOverrides(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c", "d"}
	base := mustProfileValues(t, names, zipColumns(genColumn(600, 1, genNormal(0, 1)), genColumn(600, 2, genNormal(0, 1)), genColumn(600, 3, genNormal(0, 1)), genColumn(600, 4, genNormal(0, 1))))
	cur := mustProfileValues(t, names, zipColumns(genColumn(300, 5, genNormal(2, 1)), genColumn(300, 6, genNormal(2, 1)), genColumn(300, 7, genNormal(0, 1)), genColumn(300, 8, genNormal(0, 1))))

	d := driftReportOf(t, base, cur, monitor.DriftOptions{})
	if d.DriftedFeatures != 2 || d.TotalFeatures != 4 || d.Share != 0.5 || !d.DatasetDrift || d.ShareThreshold != 0.5 {
		t.Errorf("default share: %+v", d)
	}
	if s := d.Summary(); !strings.HasPrefix(s, "2 of 4 features drifted (share 0.50, threshold 0.50): dataset drift. Drifted: a (ks p ") {
		t.Errorf("Summary = %q", s)
	}
	d = driftReportOf(t, base, cur, monitor.DriftOptions{ShareThreshold: 0.6})
	if d.DatasetDrift {
		t.Errorf("share threshold 0.6: %+v", d)
	}
	// A huge PSI threshold on a drifted feature un-drifts it.
	d = driftReportOf(t, base, cur, monitor.DriftOptions{Features: map[string]monitor.DriftTest{"a": {Method: monitor.DriftMethodPSI, Threshold: 100}}})
	if f := d.Features[0]; f.Method != monitor.DriftMethodPSI || f.Threshold != 100 || f.Drifted || d.DriftedFeatures != 1 || d.DatasetDrift {
		t.Errorf("override: %+v", d)
	}
	// The report's JSON is snake_case and deterministic in baseline order.
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"features":[{"name":"a","type":"numerical","method":"psi"`, `"p_value":`, `"baseline_count":600,"current_count":300`, `"drifted_features":1,"total_features":4,"share":0.25,"share_threshold":0.5,"dataset_drift":false`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s:\n%s", k, b)
		}
	}
}

func TestDrift_Errors(t *testing.T) {
	t.Parallel()
	base := mustProfileValues(t, []string{"s"}, genColumn(10, 1, genPick([]string{"a", "b"}, []float64{0.5})))
	for _, tt := range []struct {
		opts monitor.DriftOptions
		want string
	}{
		{monitor.DriftOptions{Features: map[string]monitor.DriftTest{"s": {Method: "t-test"}}}, `unknown method "t-test"`},
		{monitor.DriftOptions{Features: map[string]monitor.DriftTest{"s": {Method: "ks"}}}, "method ks needs a numeric feature"},
		{monitor.DriftOptions{ShareThreshold: 2}, "not between 0 and 1"},
	} {
		_, _, err := monitor.Check(&base.Statistics, nil, base, monitor.CheckOptions{Drift: tt.opts})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
	// A single category cannot be tested: reported with a note, not drifted.
	one := mustProfileValues(t, []string{"s"}, genColumn(10, 1, genPick([]string{"a"}, []float64{1})))
	d := driftReportOf(t, one, one, monitor.DriftOptions{})
	if f := d.Features[0]; f.Drifted || f.Note == "" || f.PValue != nil {
		t.Errorf("single category: %+v", f)
	}
}

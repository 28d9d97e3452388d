package monitor_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// FuzzReadBaseline feeds arbitrary bytes to the readers of statistics.json
// and constraints.json, files that come from other tools (SageMaker) and
// people's editors. A file either fails with an error or loads into
// documents whose sketches rebuild and whose checks run, without a panic.
func FuzzReadBaseline(f *testing.F) {
	for _, name := range []string{"testdata/sagemaker/statistics.json", "testdata/sagemaker/constraints.json"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"version":0.0,"dataset":{"item_count":1},"features":[{"name":"a","inferred_type":"Fractional","numerical_statistics":{"common":{"num_present":1,"num_missing":0},"mean":1,"sum":1,"std_dev":0,"min":1,"max":1,"distribution":{"kll":{"buckets":[],"sketch":{"parameters":{"c":0.64,"k":2048.0},"data":[[1.0]]}}}}}]}`))
	f.Add([]byte(`{"version":0.0,"features":[{"name":"a","inferred_type":"String","completeness":1.0,"string_constraints":{"domains":["x"]}}],"monitoring_config":{"evaluate_constraints":"Enabled"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := monitor.ReadStatistics(bytes.NewReader(data)); err == nil {
			for _, feat := range s.Features {
				if n := feat.NumericalStatistics; n != nil && n.Distribution.KLL != nil {
					if _, err := n.Distribution.KLL.Sketch.KLL(); err != nil {
						t.Fatalf("ReadStatistics accepted a sketch that does not rebuild: %v", err)
					}
				}
			}
			// A loaded baseline must be checkable against itself.
			if c, err := monitor.ReadConstraints(bytes.NewReader(data)); err == nil {
				_ = monitor.Resolve(c.MonitoringConfig)
			}
		}
		_, _ = monitor.ReadConstraints(bytes.NewReader(data))
	})
}

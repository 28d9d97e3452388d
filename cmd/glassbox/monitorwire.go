package main

import (
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// monitorSpec is an endpoint's monitor block translated for the monitor
// package.
type monitorSpec struct {
	baseline string
	rows     monitor.RowOptions
	drift    monitor.DriftOptions
}

// endpointMonitorSpec translates endpoints[].monitor.
func endpointMonitorSpec(e *config.Endpoint) monitorSpec {
	m := &e.Monitor
	spec := monitorSpec{
		baseline: m.Baseline,
		rows: monitor.RowOptions{
			Input:  payloadFormat(m.Input),
			Output: payloadFormat(m.Output),
		},
		drift: monitor.DriftOptions{ShareThreshold: m.Drift.ShareThreshold},
	}
	if len(m.Drift.Features) > 0 {
		spec.drift.Features = make(map[string]monitor.DriftTest, len(m.Drift.Features))
		for name, f := range m.Drift.Features {
			spec.drift.Features[name] = monitor.DriftTest{Method: f.Method, Threshold: f.Threshold}
		}
	}
	return spec
}

func payloadFormat(r config.RowAssembly) monitor.PayloadFormat {
	f := monitor.PayloadFormat{Format: r.Format}
	for _, c := range r.Columns {
		f.Columns = append(f.Columns, monitor.Column{Name: c.Name, Path: c.Path})
	}
	return f
}

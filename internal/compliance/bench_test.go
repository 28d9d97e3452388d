package compliance_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/compliance"
)

// BenchmarkEvaluate1000 evaluates every rule on 1,000 subjects and renders
// the JSON report.
func BenchmarkEvaluate1000(b *testing.B) {
	subjects := make([]compliance.Subject, 1000)
	for i := range subjects {
		s := good()
		s.Name = fmt.Sprintf("ep-%d", i)
		s.Capture.SamplingPercent = float64(i % 100)
		subjects[i] = s
	}
	for b.Loop() {
		r := compliance.Evaluate(subjects, settings)
		if err := compliance.WriteJSON(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateOnly1000 is Evaluate alone.
func BenchmarkEvaluateOnly1000(b *testing.B) {
	subjects := make([]compliance.Subject, 1000)
	for i := range subjects {
		s := good()
		s.Name = fmt.Sprintf("ep-%d", i)
		subjects[i] = s
	}
	for b.Loop() {
		compliance.Evaluate(subjects, settings)
	}
}

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/compliance"
	"github.com/glassbox-dev/glassbox/internal/config"
)

// BenchmarkAuditConfig1000 is 'glassbox audit --config' over 1,000
// endpoints: parse, derive subjects, evaluate, render the table.
func BenchmarkAuditConfig1000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("monitoring: {webhooks: [{name: w, url: 'https://h.example.com'}]}\npolicies: {min_sampling_percent: {default: 10, prod: 50}}\nendpoints:\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "  - name: ep-%d\n    tags: {owner: team-%d, tier: %s}\n    variants: [{name: A, upstream: 'http://127.0.0.1:9001'}]\n    capture: {sampling_percent: %d, retention_days: %d}\n",
			i, i%7, []string{"prod", "dev"}[i%2], 5+i%95, i%3*30)
	}
	path := filepath.Join(b.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		cfg, err := config.LoadAudit(path)
		if err != nil {
			b.Fatal(err)
		}
		st, err := complianceSettings(cfg)
		if err != nil {
			b.Fatal(err)
		}
		r := compliance.Evaluate(glassboxSubjects(cfg), st)
		if err := compliance.WriteTable(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

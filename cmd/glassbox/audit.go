package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/compliance"
	"github.com/glassbox-dev/glassbox/internal/config"
)

// exitAuditFailed is the exit code of 'audit' (and its subcommands) when a
// rule at or above --fail-on failed: the audit itself ran (exit 1 means it
// could not).
const exitAuditFailed = 5

// auditFailedError reports a completed audit with failures at or above
// the --fail-on severity.
type auditFailedError struct {
	n   int
	min compliance.Severity
}

func (e auditFailedError) Error() string {
	return fmt.Sprintf("compliance audit failed: %d finding(s) at or above %s", e.n, e.min)
}
func (e auditFailedError) ExitCode() int { return exitAuditFailed }

// auditOutput holds the flags every audit command shares: --output and
// --fail-on. Subcommands (audit sagemaker, audit iac) register it and end
// with finish.
type auditOutput struct {
	output, failOn string
}

func (o *auditOutput) register(c *cobra.Command) {
	c.Flags().StringVarP(&o.output, "output", "o", "table", "output format: "+strings.Join(compliance.Formats, ", "))
	c.Flags().StringVar(&o.failOn, "fail-on", "", "exit 5 when a rule of this severity or above fails: low, medium, high or critical (default: never)")
}

// check validates the flags before any work is done.
func (o *auditOutput) check() (compliance.Severity, error) {
	ok := false
	for _, f := range compliance.Formats {
		ok = ok || o.output == f
	}
	if !ok {
		return 0, usagef("--output %q: want %s", o.output, strings.Join(compliance.Formats, ", "))
	}
	if o.failOn == "" {
		return 0, nil
	}
	sev, err := compliance.ParseSeverity(o.failOn)
	if err != nil {
		return 0, usagef("--fail-on: %v", err)
	}
	return sev, nil
}

// finish renders r and returns auditFailedError when --fail-on is met.
func (o *auditOutput) finish(c *cobra.Command, r compliance.Report) error {
	min, err := o.check()
	if err != nil {
		return err
	}
	if err := compliance.Write(c.OutOrStdout(), r, o.output, glassbox.Version); err != nil {
		return err
	}
	if min == 0 {
		return nil
	}
	if f := r.Failing(min); len(f) > 0 {
		return auditFailedError{n: len(f), min: min}
	}
	return nil
}

func newAuditCommand() *cobra.Command {
	var out auditOutput
	var cfgPath string
	var cf clientFlags
	c := &cobra.Command{
		Use:   "audit [--config FILE | --server URL --token T] [--output table|json|sarif|csv] [--fail-on SEVERITY]",
		Short: "Check every endpoint against the compliance rules",
		Long: `Evaluate every Glassbox endpoint against the compliance rules (docs/compliance.md):
from a configuration file with --config (offline), or from a running server
with --server (GET /api/v1/compliance).

Exit codes: 0 the audit ran (and nothing at or above --fail-on failed),
1 the audit could not run, 2 bad flags, 5 a rule at or above --fail-on failed.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := out.check(); err != nil {
				return err
			}
			remote := cf.server != "" || cf.token != ""
			if remote && cfgPath != "" {
				return usagef("pass either --config or --server, not both")
			}
			if cfgPath == "" && !remote {
				return usagef("pass --config FILE, or --server URL with --token")
			}
			var r compliance.Report
			if cfgPath != "" {
				cfg, err := config.LoadAudit(cfgPath)
				if err != nil {
					return err
				}
				st, err := complianceSettings(cfg)
				if err != nil {
					return err
				}
				subjects := glassboxSubjects(cfg)
				locateEndpoints(cfgPath, subjects) // SARIF locations
				r = compliance.Evaluate(subjects, st)
			} else {
				cl, err := cf.client()
				if err != nil {
					return err
				}
				var rj compliance.ReportJSON
				if err := cl.do(http.MethodGet, "/api/v1/compliance", nil, &rj); err != nil {
					return err
				}
				r = rj.Report()
			}
			return out.finish(c, r)
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file to audit")
	cf.register(c)
	out.register(c)
	c.AddCommand(newAuditSageMakerCommand())
	c.AddCommand(newAuditIaCCommand())
	return c
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/compliance"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/iac"
)

func newAuditIaCCommand() *cobra.Command {
	var (
		out     auditOutput
		cfgPath string
	)
	c := &cobra.Command{
		Use:   "iac PATH... [--config FILE] [--output table|json|sarif|csv] [--fail-on SEVERITY]",
		Short: "Check CloudFormation templates and Terraform plan JSON against the compliance rules",
		Long: `Read CloudFormation templates (YAML or JSON) and Terraform plan JSON
(terraform show -json PLAN) in the given files and directories, and evaluate
every SageMaker endpoint configuration they declare, with its capture bucket
when the same file declares it (docs/compliance-iac.md). --output sarif gives
each finding the file and line of the resource, for code-scanning UIs.

A file that cannot be parsed is reported on stderr and does not stop the run.
Rule settings (required tags, minimum sampling per tier, overrides) come from
--config FILE when given, else the defaults.

Exit codes: 0 the audit ran (and nothing at or above --fail-on failed),
1 the audit could not run, 2 bad flags, 5 a rule at or above --fail-on failed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, paths []string) error {
			if _, err := out.check(); err != nil {
				return err
			}
			cfg := config.Default()
			if cfgPath != "" {
				var err error
				if cfg, err = config.Load(cfgPath); err != nil {
					return err
				}
			}
			st, err := complianceSettings(cfg)
			if err != nil {
				return err
			}
			subjects, problems, err := iac.Scan(paths)
			if err != nil {
				return err
			}
			for _, p := range problems {
				fmt.Fprintln(c.ErrOrStderr(), "glassbox: warning:", p)
			}
			return out.finish(c, compliance.Evaluate(subjects, st))
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file whose compliance settings apply")
	out.register(c)
	return c
}

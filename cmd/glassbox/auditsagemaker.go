package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/compliance"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/sagemaker"
)

// auditSageMakerTimeout bounds a whole 'audit sagemaker' run.
const auditSageMakerTimeout = 30 * time.Minute

// newAuditSageMakerCommand is 'glassbox audit sagemaker': the compliance
// audit of a live SageMaker account (docs/compliance-sagemaker.md).
func newAuditSageMakerCommand() *cobra.Command {
	var (
		out         auditOutput
		regions     []string
		profile     string
		endpointURL string
		cfgPath     string
		concurrency int
		showStats   bool
	)
	c := &cobra.Command{
		Use:   "sagemaker [--region R ...] [--profile P] [--endpoint-url URL] [--output table|json|sarif|csv] [--fail-on SEVERITY]",
		Short: "Check every endpoint of a live SageMaker account against the compliance rules",
		Long: `Read every SageMaker real-time endpoint in the given regions with the AWS SDK's
standard credential chain (read-only; the IAM policy it needs is in
docs/compliance-sagemaker.md) and evaluate it against the compliance rules.
A check the credentials may not make is reported as unknown with a
"could not check" reason; it does not stop the run.

Rule settings (required tags, minimum sampling per tier, overrides) come
from --config FILE when given, else the defaults.

Exit codes: 0 the audit ran (and nothing at or above --fail-on failed),
1 the audit could not run, 2 bad flags, 5 a rule at or above --fail-on failed.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := out.check(); err != nil {
				return err
			}
			if concurrency < 1 {
				return usagef("--concurrency must be at least 1")
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
			ctx, cancel := context.WithTimeout(c.Context(), auditSageMakerTimeout)
			defer cancel()
			subjects, stats, err := sagemaker.Audit(ctx, sagemaker.Options{
				Regions:     regions,
				Profile:     profile,
				Endpoint:    endpointURL,
				PathStyle:   endpointURL != "",
				Concurrency: concurrency,
			})
			if err != nil && len(subjects) == 0 {
				return fmt.Errorf("audit sagemaker: %w", err)
			}
			if err != nil {
				// Some regions were read: report them, and say which were not.
				fmt.Fprintln(c.ErrOrStderr(), "glassbox: warning:", err)
			}
			if showStats {
				fmt.Fprintf(c.ErrOrStderr(), "audit sagemaker: %d region(s), %d endpoint(s), %d bucket(s), %d API calls (%.1f per endpoint)\n",
					stats.Regions, stats.Endpoints, stats.Buckets, stats.TotalCalls(), stats.CallsPerEndpoint())
			}
			return out.finish(c, compliance.Evaluate(subjects, st))
		},
	}
	c.Flags().StringArrayVar(&regions, "region", nil, "region to audit (repeatable; default: the SDK's configured region)")
	c.Flags().StringVar(&profile, "profile", "", "shared config profile (default: AWS_PROFILE or default)")
	c.Flags().StringVar(&endpointURL, "endpoint-url", "", "SageMaker and S3 endpoint URL, e.g. a moto_server (path-style S3)")
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file whose compliance settings apply")
	c.Flags().IntVar(&concurrency, "concurrency", sagemaker.DefaultConcurrency, "endpoints read at once")
	c.Flags().BoolVar(&showStats, "stats", false, "print endpoint, bucket and API call counts to stderr")
	out.register(c)
	return c
}

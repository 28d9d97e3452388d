package main

import (
	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/iac"
)

func newIaCCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "iac",
		Short: "Infrastructure code that passes the compliance rules",
	}
	c.AddCommand(newIaCTemplateCommand())
	return c
}

func newIaCTemplateCommand() *cobra.Command {
	var (
		kind, format string
		opts         iac.TemplateOptions
		tags         map[string]string
	)
	c := &cobra.Command{
		Use:   "template --kind capture-bucket|sagemaker-endpoint-config --format cloudformation|terraform [--name N] [--tier T] [--min-sampling P] [--retention-days D] [--tag k=v ...]",
		Short: "Print a capture bucket or endpoint config template that passes glassbox audit iac",
		Long: `Print a template that is compliant out of the box (docs/compliance-iac.md):
a capture bucket encrypted with a customer-managed KMS key (declared in the
template, rotation on), public access blocked, a lifecycle expiration rule,
versioning and the owner, cost-center and tier tags; with
--kind sagemaker-endpoint-config, also an endpoint configuration capturing
input and output at the tier's minimum sampling with that key.

Terraform output is HCL; glassbox audit iac reads its plan JSON
(terraform show -json).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if kind == "" || format == "" {
				return usagef("say what to write: --kind %s|%s --format %s|%s",
					iac.KindCaptureBucket, iac.KindEndpointConfig, iac.FormatCloudFormation, iac.FormatTerraform)
			}
			opts.Tags = tags
			out, err := iac.Template(kind, format, opts)
			if err != nil {
				return usageError{err}
			}
			_, err = c.OutOrStdout().Write(out)
			return err
		},
	}
	c.Flags().StringVar(&kind, "kind", "", "capture-bucket or sagemaker-endpoint-config")
	c.Flags().StringVar(&format, "format", "", "cloudformation or terraform")
	c.Flags().StringVar(&opts.Name, "name", "glassbox", "name prefix of the resources")
	c.Flags().StringVar(&opts.Tier, "tier", "default", "value of the tier tag")
	c.Flags().Float64Var(&opts.MinSampling, "min-sampling", 100, "capture sampling percentage (the tier's minimum)")
	c.Flags().IntVar(&opts.RetentionDays, "retention-days", 90, "days after which captured objects expire")
	c.Flags().StringToStringVar(&tags, "tag", nil, "extra tag key=value (repeatable)")
	return c
}

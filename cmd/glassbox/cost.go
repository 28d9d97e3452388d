package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/cost"
	"github.com/glassbox-dev/glassbox/internal/notify"
)

func newCostCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "cost",
		Short: "Cost and showback of captured data",
		Long: `Put a price on captured data: bytes and objects per endpoint, variant, day
and tag, projected monthly cost, budgets, anomalies and idle endpoints
(docs/cost.md).`,
	}
	c.AddCommand(newCostReportCommand())
	return c
}

func newCostReportCommand() *cobra.Command {
	var cfgPath, by, month, output, nowFlag string
	var notifyFlag bool
	c := &cobra.Command{
		Use:   "report --config FILE [--by endpoint|variant|day|tag:KEY] [--month YYYY-MM] [--output table|csv|json]",
		Short: "Print the month's captured volume and projected cost",
		Long: `List the blob store's capture objects and print, per group, the bytes and
objects stored and captured this month and the projected cost of the month
at the config's cost.prices; then the budgets, anomalies on daily captured
bytes and idle endpoints (docs/cost.md). --by tag:owner groups by the
endpoints' owner tag. A past --month is reported as of its end. --notify
also sends each exceeded budget, anomaly and idle endpoint to
monitoring.webhooks (types cost.budget, cost.anomaly, cost.idle); run it
daily from cron.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usagef("say which config to read: --config FILE")
			}
			if !cost.ValidBy(by) {
				return usagef("--by must be endpoint, variant, day or tag:KEY, not %q", by)
			}
			switch output {
			case "table", "csv", "json":
			default:
				return usagef("--output must be table, csv or json, not %q", output)
			}
			now := time.Now()
			if nowFlag != "" {
				t, err := parseTimeFlag("--now", nowFlag)
				if err != nil {
					return err
				}
				now = t
			}
			m := now
			if month != "" {
				t, err := time.Parse("2006-01", month)
				if err != nil {
					return usagef("--month must be YYYY-MM, not %q", month)
				}
				m = t
			}
			p, err := cost.NewPeriod(m, now)
			if err != nil {
				return usagef("--month: %v", err)
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			return runCostReport(c.Context(), cfg, p, by, output, notifyFlag, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "path of the YAML config file (required)")
	c.Flags().StringVar(&by, "by", cost.ByEndpoint, "group by endpoint, variant, day or tag:KEY (tag:owner, tag:cost-center)")
	c.Flags().StringVar(&month, "month", "", "month to report, YYYY-MM (default: this month)")
	c.Flags().StringVarP(&output, "output", "o", "table", "output format: table, csv or json")
	c.Flags().StringVar(&nowFlag, "now", "", "report as if it were this RFC 3339 time (default: now)")
	c.Flags().BoolVar(&notifyFlag, "notify", false, "send budget, anomaly and idle alerts to monitoring.webhooks")
	return c
}

// costOptions translates the config's cost section and endpoints.
func costOptions(cfg *config.Config) (cost.Options, []cost.Endpoint) {
	c := cfg.Cost
	o := cost.Options{
		Prices:   cost.Prices{StorageGBMonth: c.Prices.StorageGBMonth, PutPer1000: c.Prices.PutPer1000, GetPer1000: c.Prices.GetPer1000},
		Anomaly:  cost.AnomalyOptions{Weeks: c.Anomaly.Weeks, Threshold: c.Anomaly.Threshold},
		IdleDays: c.IdleDays,
	}
	for _, b := range c.Budgets {
		o.Budgets = append(o.Budgets, cost.Budget{Name: b.Name, Endpoint: b.Endpoint, Tag: b.Tag, Monthly: b.Monthly})
	}
	eps := make([]cost.Endpoint, 0, len(cfg.Endpoints))
	for _, e := range cfg.Endpoints {
		eps = append(eps, cost.Endpoint{Name: e.Name, Tags: e.Tags})
	}
	return o, eps
}

// runCostReport lists the bucket and prints the report.
func runCostReport(ctx context.Context, cfg *config.Config, p cost.Period, by, output string, notifyAlerts bool, out, errOut io.Writer) error {
	bucket, err := openBucket(ctx, cfg.Storage.Blob, cfg.Storage.S3)
	if err != nil {
		return err
	}
	opts, eps := costOptions(cfg)
	// The whole bucket: endpoints added through the API have objects too.
	col, err := cost.Collect(ctx, bucket, nil)
	if err != nil {
		return err
	}
	r, err := cost.NewReport(col.Rows, eps, opts.Prices, p, by)
	if err != nil {
		return usagef("%v", err)
	}
	alerts := cost.Evaluate(col.Rows, eps, opts, p)
	if notifyAlerts {
		ts := webhookTargets(cfg) // monitorserve.go
		if len(ts) == 0 {
			return usagef("--notify needs monitoring.webhooks in the config")
		}
		wh, err := notify.NewWebhook(notify.WebhookOptions{Targets: ts, Logger: newLogger(cfg.Log, errOut).With("component", "notify")})
		if err != nil {
			return err
		}
		sent, err := alerts.Notify(ctx, wh, r.Month)
		fmt.Fprintf(errOut, "cost: sent %d alerts\n", sent)
		if err != nil {
			return err
		}
	}
	switch output {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(cost.Result{Report: r, Alerts: alerts})
	case "csv":
		return writeCostCSV(out, r)
	}
	return writeCostTable(out, r, alerts)
}

var costColumns = []string{"group", "bytes_stored", "objects_stored", "bytes_month", "objects_month",
	"daily_bytes", "daily_objects", "storage_usd", "requests_usd", "total_usd"}

func costRow(l cost.Line) []string {
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	return []string{l.Group, i(l.BytesStored), i(l.ObjectsStored), i(l.BytesMonth), i(l.ObjectsMonth),
		f(l.DailyBytes, 0), f(l.DailyObjects, 1), f(l.StorageUSD, 4), f(l.RequestsUSD, 4), f(l.TotalUSD, 4)}
}

// writeCostCSV writes one header and one row per line, then the total.
func writeCostCSV(out io.Writer, r cost.Report) error {
	w := csv.NewWriter(out)
	_ = w.Write(costColumns)
	for _, l := range r.Lines {
		_ = w.Write(costRow(l))
	}
	_ = w.Write(costRow(r.Total))
	w.Flush()
	return w.Error()
}

// writeCostTable prints the report and its alerts for people.
func writeCostTable(out io.Writer, r cost.Report, a cost.Alerts) error {
	fmt.Fprintf(out, "Cost of %s as of %s, by %s ($%g/GB-month, $%g/1000 PUT)\n\n", r.Month, r.AsOf.UTC().Format(time.RFC3339), r.By,
		r.Prices.StorageGBMonth, r.Prices.PutPer1000)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "GROUP\tSTORED\tOBJECTS\tMONTH BYTES\tMONTH OBJECTS\tSTORAGE $\tREQUESTS $\tPROJECTED $\t")
	for _, l := range append(r.Lines, r.Total) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%.4f\t%.4f\t%.4f\t\n", l.Group, humanBytes(l.BytesStored), l.ObjectsStored,
			humanBytes(l.BytesMonth), l.ObjectsMonth, l.StorageUSD, l.RequestsUSD, l.TotalUSD)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(a.Budgets) > 0 {
		fmt.Fprintln(out, "\nBudgets:")
		for _, b := range a.Budgets {
			state := "ok"
			if b.Exceeded {
				state = "EXCEEDED"
			}
			fmt.Fprintf(out, "  %-8s %s: projected $%.4f of $%.4f (%d endpoints)\n", state, b.Name, b.Projected, b.Monthly, len(b.Endpoints))
		}
	}
	for _, x := range a.Anomalies {
		fmt.Fprintln(out, "Anomaly:", x.Summary())
	}
	for _, x := range a.Idle {
		fmt.Fprintln(out, "Idle:", x.Summary())
	}
	return nil
}

// humanBytes formats n with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

package cost

import (
	"context"
	"log/slog"
	"time"
)

// Result is a report with its alerts: the document of 'glassbox cost
// report --output json' and GET /api/v1/cost.
type Result struct {
	Report
	Alerts Alerts `json:"alerts"`
}

// ServiceOptions configure a Service. Bucket and Endpoints are required.
type ServiceOptions struct {
	Bucket Lister
	// Endpoints returns the endpoints whose tags the reports use.
	Endpoints func() []Endpoint
	Options   Options
	// Metrics receive the current month by endpoint on every Refresh; nil
	// records nothing.
	Metrics *Metrics
	// Notifier, if set, receives the current alerts (exceeded budgets,
	// anomalies, idle endpoints) once a day, at the first refresh of each
	// UTC day: so a server started or restarted during a day sends that
	// day's alerts once more.
	Notifier Notifier
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service computes cost results from the live bucket.
type Service struct {
	o            ServiceOptions
	lastNotified string // UTC date of the last alert delivery (Run only)
}

// NewService returns a Service.
func NewService(o ServiceOptions) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{o: o}
}

// Result lists the bucket and computes the result of month (any instant of
// it; zero means the current month) grouped by by. Callers check by with
// ValidBy and the month with NewPeriod first to tell bad input from
// failures.
func (s *Service) Result(ctx context.Context, month time.Time, by string) (Result, error) {
	now := s.o.Now()
	if month.IsZero() {
		month = now
	}
	p, err := NewPeriod(month, now)
	if err != nil {
		return Result{}, err
	}
	col, err := Collect(ctx, s.o.Bucket, nil)
	if err != nil {
		return Result{}, err
	}
	eps := s.o.Endpoints()
	r, err := NewReport(col.Rows, eps, s.o.Options.Prices, p, by)
	if err != nil {
		return Result{}, err
	}
	return Result{Report: r, Alerts: Evaluate(col.Rows, eps, s.o.Options, p)}, nil
}

// Refresh computes the current month by endpoint and sets the metrics.
func (s *Service) Refresh(ctx context.Context) (Result, error) {
	res, err := s.Result(ctx, time.Time{}, ByEndpoint)
	if err != nil {
		return Result{}, err
	}
	s.o.Metrics.Set(res.Report, res.Alerts)
	return res, nil
}

// Run refreshes the metrics at once and then every interval until ctx
// ends; failures are logged.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := s.Refresh(ctx)
		if err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("cost refresh failed", "err", err)
		}
		if err == nil {
			s.notifyDaily(ctx, res)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// notifyDaily delivers res's alerts if none were delivered yet this UTC
// day. A failed delivery is logged and retried at the next refresh.
func (s *Service) notifyDaily(ctx context.Context, res Result) {
	if s.o.Notifier == nil {
		return
	}
	day := s.o.Now().UTC().Format(time.DateOnly)
	if day == s.lastNotified {
		return
	}
	sent, err := res.Alerts.Notify(ctx, s.o.Notifier, res.Report.Month)
	if err != nil {
		s.o.Logger.Warn("cost alerts not delivered", "sent", sent, "err", err)
		return
	}
	s.lastNotified = day
	if sent > 0 {
		s.o.Logger.Info("cost alerts delivered", "sent", sent)
	}
}

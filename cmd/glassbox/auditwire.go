package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/glassbox-dev/glassbox/internal/compliance"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
)

// complianceSettings translates the config file's compliance and policies
// sections into compliance.Settings. Parse has validated every severity.
func complianceSettings(cfg *config.Config) (compliance.Settings, error) {
	st := compliance.Settings{
		RequiredTags: cfg.EffectiveRequiredTags(),
		MinSampling:  cfg.Policies.MinSamplingPercent,
		Overrides:    map[string]compliance.RuleOverride{},
	}
	for id, r := range cfg.Compliance.Rules {
		o := compliance.RuleOverride{Enabled: r.Enabled, Enforce: r.Enforce}
		sev, err := severityPtr(r.Severity)
		if err != nil {
			return st, fmt.Errorf("compliance.rules.%s.severity: %w", id, err)
		}
		o.Severity = sev
		for tier, t := range r.Tiers {
			sev, err := severityPtr(t.Severity)
			if err != nil {
				return st, fmt.Errorf("compliance.rules.%s.tiers.%s.severity: %w", id, tier, err)
			}
			if o.Tiers == nil {
				o.Tiers = map[string]compliance.RuleOverride{}
			}
			o.Tiers[tier] = compliance.RuleOverride{Enabled: t.Enabled, Severity: sev}
		}
		st.Overrides[id] = o
	}
	return st, nil
}

func severityPtr(s string) (*compliance.Severity, error) {
	if s == "" {
		return nil, nil
	}
	v, err := compliance.ParseSeverity(s)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// glassboxSubjects describes every endpoint of cfg as a compliance.Subject.
func glassboxSubjects(cfg *config.Config) []compliance.Subject {
	out := make([]compliance.Subject, 0, len(cfg.Endpoints))
	for i := range cfg.Endpoints {
		out = append(out, glassboxSubject(cfg, &cfg.Endpoints[i]))
	}
	return out
}

// glassboxSubject describes one Glassbox endpoint (docs/compliance.md,
// "Glassbox endpoints", says how each fact is derived).
func glassboxSubject(cfg *config.Config, e *config.Endpoint) compliance.Subject {
	tier := e.Tags["tier"]
	if tier == "" {
		tier = "default"
	}
	s := compliance.Subject{
		Source:    compliance.SourceGlassbox,
		Name:      e.Name,
		Resource:  "glassbox:endpoint/" + e.Name,
		Tier:      tier,
		Tags:      e.Tags,
		Unchecked: map[string]string{},
		Capture: compliance.Capture{
			Enabled:         compliance.FactOf(e.Capture.IsEnabled()),
			SamplingPercent: e.Capture.Sampling(),
			Retention:       compliance.FactOf(e.Capture.RetentionDays > 0),
			RetentionDays:   e.Capture.RetentionDays,
			Immutable:       compliance.Unknown,
		},
		Monitored:     compliance.FactOf(e.Monitor.Baseline != "" && len(e.Monitor.Schedules) > 0),
		Alerting:      compliance.FactOf(len(cfg.Monitoring.Webhooks) > 0 && len(e.Monitor.Schedules) > 0),
		ModelApproved: compliance.Unknown,
	}
	s.Unchecked[compliance.FactModelApproved] = "Glassbox has no model registry yet"
	blob := cfg.Storage.Blob
	switch config.BlobScheme(blob) {
	case config.BlobSchemeS3:
		s.Capture.Destination = strings.TrimSuffix(blob, "/") + "/" + e.Name
		s.Capture.DestinationPublic = compliance.Unknown
		s.Unchecked[compliance.FactDestinationPublic] = "the configuration audit does not call S3; check the bucket's public access block (glassbox audit sagemaker checks it for SageMaker buckets)"
		s.Unchecked["capture.immutable"] = "the configuration audit does not call S3"
		s.Capture.Encryption, s.Capture.KMSKeyID = s3Encryption(cfg.Storage.S3)
	default:
		s.Capture.Destination = "file://" + path.Join(strings.TrimPrefix(blob, "file://"), e.Name)
		s.Capture.DestinationPublic = compliance.No
		// A local folder holds plaintext as far as Glassbox can tell: disk
		// encryption is neither a customer key nor visible from here.
		s.Capture.Encryption = compliance.EncryptionNone
		s.Capture.Immutable = compliance.No
	}
	if e.Capture.Encrypt && cfg.Keys.Provider != "" {
		s.Capture.Encryption = compliance.EncryptionEnvelope
		s.Capture.KMSKeyID = cfg.Keys.KMSKeyID
		if cfg.Keys.Provider == "local" {
			s.Capture.KMSKeyID = "local keyring " + cfg.Keys.Keyring
		}
	}
	return s
}

// s3Encryption maps storage.s3 to an Encryption constant and key.
func s3Encryption(s3 config.S3) (string, string) {
	switch s3.SSE {
	case config.SSEKMS:
		if s3.KMSKeyID == "" || strings.HasPrefix(s3.KMSKeyID, "alias/aws/") || strings.Contains(s3.KMSKeyID, ":alias/aws/") {
			return compliance.EncryptionSSEKMS, s3.KMSKeyID
		}
		return compliance.EncryptionKMSCMK, s3.KMSKeyID
	case config.SSEAES256:
		return compliance.EncryptionSSES3, ""
	}
	return compliance.EncryptionNone, ""
}

// complianceService evaluates the compliance rules on the endpoints a
// running server holds: it implements api.ComplianceReporter, refuses
// changes that break an enforced rule (endpointService.Prepare) and
// exports the KPIs as gauges.
type complianceService struct {
	cfg      *config.Config // storage, keys, monitoring: how subjects are derived
	settings compliance.Settings
	store    endpoints.Store
}

func newComplianceService(cfg *config.Config, store endpoints.Store) (*complianceService, error) {
	st, err := complianceSettings(cfg)
	if err != nil {
		return nil, err
	}
	return &complianceService{cfg: cfg, settings: st, store: store}, nil
}

// ComplianceReport implements api.ComplianceReporter. Stored declarations
// are read without policies, so an endpoint that a stricter policy would
// now refuse is still reported.
func (s *complianceService) ComplianceReport(ctx context.Context) (compliance.Report, error) {
	recs, err := s.store.ListEndpoints(ctx)
	if err != nil {
		return compliance.Report{}, fmt.Errorf("list endpoints: %w", err)
	}
	subjects := make([]compliance.Subject, 0, len(recs))
	for _, r := range recs {
		e, err := config.ParseEndpoint(r.Spec, config.Policies{})
		if err != nil {
			return compliance.Report{}, fmt.Errorf("read endpoint %s: %w", r.Name, err)
		}
		subjects = append(subjects, glassboxSubject(s.cfg, e))
	}
	return compliance.Evaluate(subjects, s.settings), nil
}

// enforce returns an error naming every enforced rule e breaks, or nil.
func (s *complianceService) enforce(e *config.Endpoint) error {
	r := compliance.Evaluate([]compliance.Subject{glassboxSubject(s.cfg, e)}, s.settings)
	fs := r.Enforced()
	if len(fs) == 0 {
		return nil
	}
	msgs := make([]string, len(fs))
	for i, f := range fs {
		msgs[i] = fmt.Sprintf("compliance rule %s (%s, enforced): %s; %s", f.RuleID, f.Title, f.Detail, f.Remediation)
	}
	return errors.New(strings.Join(msgs, "; "))
}

// complianceCollector exports the KPIs of a fresh report on each scrape.
type complianceCollector struct {
	svc                                *complianceService
	endpoints, capture, compliant, err *prometheus.Desc
	findings                           *prometheus.Desc
}

func newComplianceCollector(svc *complianceService) *complianceCollector {
	labels := []string{"dimension", "key", "value"}
	return &complianceCollector{svc: svc,
		endpoints: prometheus.NewDesc("glassbox_compliance_endpoints", "Endpoints evaluated by the compliance rules, overall (dimension all) and per source, tier and required tag.", labels, nil),
		capture:   prometheus.NewDesc("glassbox_compliance_capture_enabled_ratio", "Share of endpoints with data capture enabled.", labels, nil),
		compliant: prometheus.NewDesc("glassbox_compliance_fully_compliant_ratio", "Share of endpoints on which no enabled compliance rule fails.", labels, nil),
		findings:  prometheus.NewDesc("glassbox_compliance_findings", "Compliance findings by rule, severity and status.", []string{"rule", "severity", "status"}, nil),
		err:       prometheus.NewDesc("glassbox_compliance_up", "1 when the last compliance evaluation succeeded.", nil, nil),
	}
}

func (c *complianceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.endpoints, c.capture, c.compliant, c.findings, c.err} {
		ch <- d
	}
}

func (c *complianceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.svc.ComplianceReport(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.err, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.err, prometheus.GaugeValue, 1)
	for _, g := range append([]compliance.Group{r.Summary.Totals}, r.Summary.Groups...) {
		ch <- prometheus.MustNewConstMetric(c.endpoints, prometheus.GaugeValue, float64(g.Endpoints), g.Dimension, g.Key, g.Value)
		ch <- prometheus.MustNewConstMetric(c.capture, prometheus.GaugeValue, g.CaptureEnabledShare(), g.Dimension, g.Key, g.Value)
		ch <- prometheus.MustNewConstMetric(c.compliant, prometheus.GaugeValue, g.FullyCompliantShare(), g.Dimension, g.Key, g.Value)
	}
	type key struct{ rule, sev, status string }
	n := map[key]int{}
	for _, f := range r.Findings {
		n[key{f.RuleID, f.Severity.String(), f.Status}]++
	}
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(c.findings, prometheus.GaugeValue, float64(v), k.rule, k.sev, k.status)
	}
}

// enforceCompliance refuses a configuration whose endpoints break an
// enforced compliance rule, naming each, as serve does at start.
func enforceCompliance(cfg *config.Config) error {
	svc, err := newComplianceService(cfg, nil)
	if err != nil {
		return err
	}
	var msgs []string
	for i := range cfg.Endpoints {
		if err := svc.enforce(&cfg.Endpoints[i]); err != nil {
			msgs = append(msgs, fmt.Sprintf("endpoints[%d] (%s): %v", i, cfg.Endpoints[i].Name, err))
		}
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "\n"))
	}
	return nil
}

// locateEndpoints sets File (the config path) and Line (the line of the
// endpoint's declaration) on subjects read from the file at path, for
// SARIF. Subjects whose declaration is not found keep Line 0; an
// unreadable file changes nothing (Load has already read it).
func locateEndpoints(path string, subjects []compliance.Subject) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return
	}
	lines := map[string]int{}
	root := doc.Content[0]
	for i := 0; root.Kind == yaml.MappingNode && i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "endpoints" || root.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for _, ep := range root.Content[i+1].Content {
			for j := 0; ep.Kind == yaml.MappingNode && j+1 < len(ep.Content); j += 2 {
				if ep.Content[j].Value == "name" {
					lines[ep.Content[j+1].Value] = ep.Line
				}
			}
		}
	}
	for i := range subjects {
		subjects[i].File = path
		subjects[i].Line = lines[subjects[i].Name]
	}
}

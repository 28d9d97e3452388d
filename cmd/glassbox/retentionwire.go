package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/glassbox-dev/glassbox/internal/audit"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/digest"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// The digest writer is what the sweeper records deletions and rewrites in.
var _ capture.DigestRecorder = (*digest.Writer)(nil)

// retentionInterval is how often glassbox serve sweeps (and once at start).
const retentionInterval = time.Hour

// Audit log vocabulary of retention (docs/retention.md).
const (
	retentionActor          = "system:retention"
	retentionActionPrefix   = "retention." // + capture.RetentionDelete or RetentionStrip
	retentionResourcePrefix = "capture-object/"
)

// endpointLister is what retention needs from the metadata store: the
// endpoints as currently declared (the API may have changed them).
type endpointLister interface {
	ListEndpoints(ctx context.Context) ([]endpoints.Record, error)
}

// retentionRules returns the rules of every endpoint with retention: the
// config file's endpoints, replaced by the metadata store's version of each
// (and joined by endpoints created through the API) when st is not nil.
func retentionRules(ctx context.Context, cfg *config.Config, st endpointLister) ([]capture.RetentionRule, error) {
	byName := map[string]config.Capture{}
	var names []string
	add := func(e *config.Endpoint) {
		if _, ok := byName[e.Name]; !ok {
			names = append(names, e.Name)
		}
		byName[e.Name] = e.Capture
	}
	for i := range cfg.Endpoints {
		add(&cfg.Endpoints[i])
	}
	if st != nil {
		recs, err := st.ListEndpoints(ctx)
		if err != nil {
			return nil, fmt.Errorf("list endpoints: %w", err)
		}
		for _, r := range recs {
			e, err := config.ParseEndpoint(r.Spec, cfg.Policies)
			if err != nil {
				// Not served either (endpointService.Reload); its objects
				// keep the retention of the config file, if any.
				continue
			}
			add(e)
		}
	}
	var rules []capture.RetentionRule
	for _, n := range names {
		c := byName[n]
		if !c.HasRetention() {
			continue
		}
		objects, payloads := c.Retention()
		rules = append(rules, capture.RetentionRule{Endpoint: n, Objects: objects, Payloads: payloads,
			ObjectDays: c.RetentionDays, PayloadDays: c.PayloadRetentionDays})
	}
	return rules, nil
}

// retentionAudit writes retention actions into the audit log through the
// metadata store's append, the path the API's middleware uses.
type retentionAudit struct{ st audit.Store }

var _ capture.RetentionAudit = retentionAudit{}

// AuditRetention implements capture.RetentionAudit.
func (a retentionAudit) AuditRetention(ctx context.Context, act capture.RetentionAction) error {
	details := "endpoint=" + act.Endpoint + " reason=" + act.Reason +
		" size=" + strconv.FormatInt(act.Size, 10) + fmt.Sprintf(" sha256=%x", act.SHA256)
	if act.Kind == capture.RetentionStrip {
		details += " new_size=" + strconv.FormatInt(act.NewSize, 10) + fmt.Sprintf(" new_sha256=%x", act.NewSHA256)
	}
	return a.st.AppendAudit(ctx, &audit.Event{
		Time:     act.Time,
		Actor:    retentionActor,
		Action:   retentionActionPrefix + act.Kind,
		Resource: retentionResourcePrefix + act.Key,
		Result:   audit.ResultOK,
		Details:  details,
	})
}

// retentionStore is the metadata store as retention uses it.
type retentionStore interface {
	endpointLister
	audit.Store
}

// newRetentionSweeper builds the sweeper of cfg. bucket reads plaintext and
// writes rewritten objects (serve's bucket, encrypting when keys are
// configured); raw is the bucket below it when it decorates one (nil when
// not), whose stored bytes are hashed. st, when not nil, supplies the
// current endpoints and receives audit events. digests, when not nil,
// records every action in the digest chain (pass nil, never a nil
// *digest.Writer).
func newRetentionSweeper(cfg *config.Config, bucket, raw objstore.Bucket, st retentionStore, digests capture.DigestRecorder,
	dryRun bool, now func() time.Time, log *slog.Logger) (*capture.Sweeper, error) {
	o := capture.SweeperOptions{
		Bucket: bucket,
		Raw:    raw,
		RulesFunc: func(ctx context.Context) ([]capture.RetentionRule, error) {
			return retentionRules(ctx, cfg, st)
		},
		Digests: digests,
		DryRun:  dryRun,
		Now:     now,
		Logger:  log,
	}
	if st != nil {
		o.Audit = retentionAudit{st: st}
	}
	return capture.NewSweeper(o)
}

// retentionRawBucket opens the blob store again, undecorated, when
// encryption at rest decorates bucket: the digest chain hashes the bytes
// as stored. It returns nil when bucket stores bytes as they are.
func retentionRawBucket(ctx context.Context, cfg *config.Config) (objstore.Bucket, error) {
	if !cfg.Keys.Enabled() {
		return nil, nil
	}
	return openBucket(ctx, cfg.Storage.Blob, cfg.Storage.S3)
}

// startRetention runs the retention sweeper of glassbox serve: a sweep at
// start and one every retentionInterval, until ctx ends or the returned
// stop is called. stop cancels and waits for a sweep in progress to
// finish (a sweep stops between objects); call it before the metadata
// store closes. digests may be nil (no digest chain). A sweeper that
// cannot be built is logged and not run: retention is not a reason to
// refuse traffic.
func startRetention(ctx context.Context, cfg *config.Config, bucket objstore.Bucket, st retentionStore,
	digests capture.DigestRecorder, log *slog.Logger) (stop func()) {
	log = log.With("component", "retention")
	raw, err := retentionRawBucket(ctx, cfg)
	if err != nil {
		log.Error("retention disabled: open the blob store", "err", err)
		return func() {}
	}
	s, err := newRetentionSweeper(cfg, bucket, raw, st, digests, false, time.Now, log)
	if err != nil {
		log.Error("retention disabled", "err", err)
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Run(ctx, retentionInterval) })
	return func() {
		cancel()
		wg.Wait()
	}
}

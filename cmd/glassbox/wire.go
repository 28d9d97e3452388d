package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/gateway"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
	"github.com/glassbox-dev/glassbox/internal/objstore/s3"
)

// openBucket builds the blob store named by a storage.blob URL: a local
// folder (file://) or an S3-compatible bucket (s3://), with the storage.s3
// overrides on top of the standard AWS settings.
func openBucket(ctx context.Context, blob string, s3cfg config.S3) (objstore.Bucket, error) {
	if config.BlobScheme(blob) == "s3" {
		bucket, prefix, err := config.S3Location(blob)
		if err != nil {
			return nil, err
		}
		b, err := s3.New(ctx, s3.Options{
			Bucket:    bucket,
			Prefix:    prefix,
			Region:    s3cfg.Region,
			Endpoint:  s3cfg.Endpoint,
			PathStyle: s3cfg.PathStyle,
			SSE:       s3cfg.SSE,
			KMSKeyID:  s3cfg.KMSKeyID,
		})
		if err != nil {
			return nil, fmt.Errorf("open blob store %s: %w", blob, err)
		}
		return b, nil
	}
	path, err := config.BlobPath(blob)
	if err != nil {
		return nil, err
	}
	b, err := file.New(path)
	if err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", blob, err)
	}
	return b, nil
}

// spoolOptions translates the storage section; the segment age is the
// shortest max_object_seconds among the endpoints.
func spoolOptions(cfg *config.Config) capture.SpoolOptions {
	opts := capture.SpoolOptions{
		Dir:             cfg.Storage.Spool,
		MaxBytes:        int64(cfg.Storage.SpoolMaxBytes),
		SegmentBytes:    int64(cfg.Storage.SpoolSegmentBytes),
		FsyncInterval:   time.Duration(cfg.Storage.SpoolFsyncInterval),
		QueueMaxRecords: cfg.Storage.QueueMaxRecords,
		QueueMaxBytes:   int64(cfg.Storage.QueueMaxBytes),
	}
	for _, e := range cfg.Endpoints {
		age := time.Duration(e.Capture.MaxObjectSeconds) * time.Second
		if age > 0 && (opts.MaxSegmentAge == 0 || age < opts.MaxSegmentAge) {
			opts.MaxSegmentAge = age
		}
	}
	return opts
}

// newLogger builds the process logger from the log section.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// capturePolicy translates an endpoint's capture section. redactKey keys
// the hash action of capture.redact (nil: a random key, for checks).
func capturePolicy(e *config.Endpoint, redactKey []byte) (*capture.Policy, error) {
	c := &e.Capture
	p := &capture.Policy{
		Endpoint:        e.Name,
		Enabled:         c.IsEnabled(),
		SamplingPercent: c.Sampling(),
		ContentTypes:    capture.NewContentTypes(c.CSVContentTypes, c.JSONContentTypes),
		MaxPayloadBytes: int(c.MaxPayloadBytes),
		Strict:          c.Strict,
		MaxObjectAge:    time.Duration(c.MaxObjectSeconds) * time.Second,
		MaxObjectBytes:  int64(c.MaxObjectBytes),
		Sync:            c.Durability == config.DurabilitySync,
		RejectWhenFull:  c.SpoolFullPolicy() == "reject",
	}
	for _, m := range c.Modes {
		switch strings.ToLower(m) {
		case "input":
			p.Input = true
		case "output":
			p.Output = true
		}
	}
	r, err := captureRedactor(c.Redact, redactKey) // redactwire.go
	if err != nil {
		return nil, err
	}
	p.Redactor = r
	return p, nil
}

// gatewayEndpoints translates the endpoints section for a check: hash
// tokens of capture.redact would use a random key. Serving uses
// gatewayEndpointsWithKey.
func gatewayEndpoints(cfg *config.Config) ([]gateway.Endpoint, error) {
	return gatewayEndpointsWithKey(cfg, nil)
}

// gatewayEndpointsWithKey translates the endpoints section; redactKey keys
// capture.redact's hash tokens (loadRedactKey).
func gatewayEndpointsWithKey(cfg *config.Config, redactKey []byte) ([]gateway.Endpoint, error) {
	var eps []gateway.Endpoint
	for i := range cfg.Endpoints {
		e := &cfg.Endpoints[i]
		pol, err := capturePolicy(e, redactKey)
		if err != nil {
			return nil, fmt.Errorf("endpoints[%d].capture.redact: %w", i, err)
		}
		ge := gateway.Endpoint{
			Name:         e.Name,
			Tags:         e.Tags,
			RequireToken: e.Auth == config.AuthToken,
			Capture:      pol,
			Timeout:      time.Duration(e.Timeout),
			MaxBodyBytes: int64(e.MaxBodyBytes),
		}
		for j, v := range e.Variants {
			u, err := url.Parse(v.Upstream)
			if err != nil {
				return nil, fmt.Errorf("endpoints[%d].variants[%d].upstream: %w", i, j, err)
			}
			tc, err := upstreamTLSConfig(v.TLS, fmt.Sprintf("endpoints[%d].variants[%d].tls", i, j)) // tlswire.go
			if err != nil {
				return nil, err
			}
			ge.Variants = append(ge.Variants, gateway.Variant{
				Name: v.Name, Upstream: u, Weight: v.Weight, InvocationsPath: v.InvocationsPath, TLS: tc,
			})
		}
		eps = append(eps, ge)
	}
	return eps, nil
}

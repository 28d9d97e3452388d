package main

import (
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
)

// openBucket builds the blob store named by a storage.blob URL.
func openBucket(blob string) (objstore.Bucket, error) {
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

// capturePolicy translates an endpoint's capture section.
func capturePolicy(e *config.Endpoint) *capture.Policy {
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
	}
	for _, m := range c.Modes {
		switch strings.ToLower(m) {
		case "input":
			p.Input = true
		case "output":
			p.Output = true
		}
	}
	return p
}

// gatewayEndpoints translates the endpoints section.
func gatewayEndpoints(cfg *config.Config) ([]gateway.Endpoint, error) {
	var eps []gateway.Endpoint
	for i := range cfg.Endpoints {
		e := &cfg.Endpoints[i]
		if e.Capture.Durability == "sync" {
			return nil, fmt.Errorf("endpoints[%d].capture.durability: sync needs the durable spool, which this build does not have yet; use async", i)
		}
		ge := gateway.Endpoint{
			Name:         e.Name,
			Capture:      capturePolicy(e),
			Timeout:      time.Duration(e.Timeout),
			MaxBodyBytes: int64(e.MaxBodyBytes),
		}
		for j, v := range e.Variants {
			u, err := url.Parse(v.Upstream)
			if err != nil {
				return nil, fmt.Errorf("endpoints[%d].variants[%d].upstream: %w", i, j, err)
			}
			ge.Variants = append(ge.Variants, gateway.Variant{
				Name: v.Name, Upstream: u, Weight: v.Weight, InvocationsPath: v.InvocationsPath,
			})
		}
		eps = append(eps, ge)
	}
	return eps, nil
}

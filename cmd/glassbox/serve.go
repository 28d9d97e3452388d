package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/gateway"
)

func newServeCommand() *cobra.Command {
	var cfgPath, listen string
	c := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the gateway in front of the configured model endpoints",
		Long: `Run the gateway. Clients call

  POST /endpoints/{name}/invocations     SageMaker runtime semantics
  ANY  /endpoints/{name}/proxy/{path}    transparent pass-through (streaming too)

and Glassbox records sampled exchanges under storage.blob in SageMaker's Data
Capture layout, through a local write-ahead spool (storage.spool) so that
nothing accepted is lost when the process dies or the blob store is down.
/healthz, /readyz and /metrics (Prometheus) are served on the same address.
SIGTERM or SIGINT stops accepting, finishes in-flight requests, and uploads
every spooled record before exiting (what cannot be uploaded in
server.shutdown_timeout stays in the spool and is uploaded at the next start).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usagef("serve needs --config FILE (see etc/glassbox.yaml for an example)")
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Server.Listen = listen
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, c.ErrOrStderr(), nil)
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "path of the YAML config file")
	c.Flags().StringVar(&listen, "listen", "", "listen address, overriding server.listen (e.g. 127.0.0.1:0)")
	return c
}

// serve runs the gateway until ctx ends, then shuts down in order: stop
// accepting and finish in-flight exchanges, then drain the capture queue.
// When started is not nil it receives the bound address once serving.
func serve(ctx context.Context, cfg *config.Config, logOut io.Writer, started chan<- string) error {
	log := newLogger(cfg.Log, logOut)
	bucket, err := openBucket(ctx, cfg.Storage.Blob, cfg.Storage.S3)
	if err != nil {
		return err
	}
	eps, err := gatewayEndpoints(cfg)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sopts := spoolOptions(cfg)
	sopts.Logger = log.With("component", "capture")
	sopts.Metrics = capture.NewMetrics(reg)
	spool, err := capture.OpenSpool(bucket, sopts)
	if err != nil {
		return err
	}
	gw, err := gateway.New(gateway.Options{
		Endpoints:    eps,
		Sink:         spool,
		MaxBodyBytes: int64(cfg.Server.MaxBodyBytes),
		Logger:       log.With("component", "gateway"),
		Registerer:   reg,
		Gatherer:     reg,
	})
	if err != nil {
		closeQuickly(spool)
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		closeQuickly(spool)
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: time.Duration(cfg.Server.ReadHeaderTimeout),
		IdleTimeout:       time.Duration(cfg.Server.IdleTimeout),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	gw.SetReady(true)
	addr := ln.Addr().String()
	log.Info("glassbox serving", "version", glassbox.Version, "addr", addr,
		"endpoints", len(eps), "blob", bucket.String())
	if started != nil {
		started <- addr
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
		runErr = fmt.Errorf("serve: %w", runErr)
	}

	// Shutdown order: readiness off so balancers stop sending; stop
	// accepting and wait for in-flight exchanges (each hands its record to
	// the spool before its handler returns); then close the spool, which
	// writes what is queued and uploads every sealed segment. What cannot be
	// uploaded in time stays in the spool for the next start.
	gw.SetReady(false)
	log.Info("shutting down", "timeout", time.Duration(cfg.Server.ShutdownTimeout).String())
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Server.ShutdownTimeout))
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		runErr = errors.Join(runErr, fmt.Errorf("stop http server: %w", err))
	}
	if err := spool.Close(sctx); err != nil {
		runErr = errors.Join(runErr, err)
	}
	log.Info("stopped")
	return runErr
}

// closeQuickly closes a spool on a start-up failure without waiting for a
// blob store that may be down: what is not uploaded stays in the spool.
func closeQuickly(s *capture.Spool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/api"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/gateway"
	"github.com/glassbox-dev/glassbox/internal/oidc"
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

// serve runs Glassbox until ctx ends — the gateway, the capture spool and
// the control-plane API on one listener — then shuts down in order: stop
// accepting and finish in-flight exchanges, then drain the capture spool.
// When started is not nil it receives the bound address once serving.
func serve(ctx context.Context, cfg *config.Config, logOut io.Writer, started chan<- string) error {
	log := newLogger(cfg.Log, logOut)
	if _, err := gatewayEndpoints(cfg); err != nil {
		return err
	}
	authz, err := newAuthorizer(cfg)
	if err != nil {
		return err
	}
	bucket, err := openBucket(ctx, cfg.Storage.Blob, cfg.Storage.S3)
	if err != nil {
		return err
	}
	// Tamper evidence, hashing what the store receives, below the
	// encryption (digestwire.go). stop runs after spool.Close, so the
	// shutdown digest lists the last objects.
	digests, bucket, err := openDigests(ctx, cfg, bucket, log)
	if err != nil {
		return err
	}
	defer digests.stop()
	bucket, encrypted, keyProvider, err := wrapBucket(ctx, cfg, bucket) // encryption at rest (keyswire.go)
	if err != nil {
		return err
	}
	db, err := openMetadata(ctx, cfg, log.With("component", "store"))
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now()
	if err := enforceCompliance(cfg); err != nil { // auditwire.go
		return err
	}
	if err := loadConfigEndpoints(ctx, cfg, db, now); err != nil {
		return err
	}
	if err := bootstrapToken(ctx, db, logOut, now); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sopts := spoolOptions(cfg)
	sopts.Logger = log.With("component", "capture")
	sopts.Metrics = capture.NewMetrics(reg)
	sopts.Index = db
	sopts.ObjectHook = digests
	sopts.Keys = keyProvider // with a keys section the spool is encrypted too (internal/capture/spoolcrypt.go)
	spool, err := capture.OpenSpool(bucket, sopts)
	if err != nil {
		return err
	}
	redactKey, err := loadRedactKey(ctx, cfg.Storage.Spool, keyProvider) // redactwire.go
	if err != nil {
		closeQuickly(spool)
		return err
	}
	gw, err := gateway.New(gateway.Options{
		Sink:          spool,
		Authenticator: &invokeAuthenticator{tokens: db, authz: authz},
		MaxBodyBytes:  int64(cfg.Server.MaxBodyBytes),
		Logger:        log.With("component", "gateway"),
		Registerer:    reg,
		Gatherer:      reg,
	})
	if err != nil {
		closeQuickly(spool)
		return err
	}
	mon := &monitorService{captures: bucket, prefix: cfg.Monitoring.ReportsPrefix, s3: cfg.Storage.S3, log: log.With("component", "monitor")}
	costEps := &costEndpoints{}
	costSvc := newCostService(cfg, bucket, costEps, reg, log) // costwire.go
	sched, err := newScheduler(cfg, db, mon, reg, log)
	if err != nil {
		closeQuickly(spool)
		return err
	}
	comp, err := newComplianceService(cfg, db) // auditwire.go
	if err != nil {
		closeQuickly(spool)
		return err
	}
	if err := reg.Register(newComplianceCollector(comp)); err != nil {
		closeQuickly(spool)
		return err
	}
	svc := &endpointService{policies: cfg.Policies, store: db, gw: gw, log: log.With("component", "endpoints"), redactKey: redactKey,
		keysEnabled: keyProvider != nil, compliance: comp,
		onApply: func(eps []config.Endpoint) error {
			encrypted.apply(eps)
			costEps.apply(eps)
			return sched.Apply(mon.apply(eps))
		}}
	if err := svc.Reload(ctx); err != nil {
		closeQuickly(spool)
		return fmt.Errorf("load endpoints: %w", err)
	}
	var verifier api.TokenVerifier
	if cfg.OIDC.Enabled() {
		v, err := oidc.New(ctx, oidc.Options{
			Issuer:       cfg.OIDC.Issuer,
			Audience:     cfg.OIDC.Audience,
			RolesClaim:   cfg.OIDC.RolesClaim,
			SubjectClaim: cfg.OIDC.SubjectClaim,
			RoleMap:      cfg.OIDC.RoleMap,
		})
		if err != nil {
			closeQuickly(spool)
			return err
		}
		// Discovery is retried on use; an issuer that is down at start only
		// delays OIDC logins.
		if err := v.Discover(ctx); err != nil {
			log.Warn("oidc issuer not reachable yet; will retry on use", "issuer", cfg.OIDC.Issuer, "err", err)
		}
		verifier = v
	}
	apiHandler, err := api.New(api.Options{
		Store:      db,
		Endpoints:  svc,
		Captures:   captureReader{r: &capture.Reader{Bucket: bucket}},
		Authorizer: authz,
		OIDC:       verifier,
		Monitor:    sched,
		Compliance: comp,
		Cost:       costSvc,
		Logger:     log.With("component", "api"),
		Registerer: reg,
	})
	if err != nil {
		closeQuickly(spool)
		return err
	}
	ln, err := listen(cfg.Server, log, logOut) // TLS when configured; warns in clear text (tlswire.go)
	if err != nil {
		closeQuickly(spool)
		return err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go svc.watch(watchCtx, 2*time.Second) // changes made by other processes
	schedDone := make(chan error, 1)
	go func() { schedDone <- sched.Run(watchCtx) }()
	go costSvc.Run(watchCtx, costRefreshInterval)                   // glassbox_cost_* gauges (costwire.go)
	defer startRetention(watchCtx, cfg, bucket, db, digests, log)() // hourly sweeps; stopped before db closes (retentionwire.go)
	mux := http.NewServeMux()
	mux.Handle("/api/", apiHandler)
	mux.Handle("/", gw)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: time.Duration(cfg.Server.ReadHeaderTimeout),
		IdleTimeout:       time.Duration(cfg.Server.IdleTimeout),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	gw.SetReady(true)
	addr := ln.Addr().String()
	log.Info("glassbox serving", "version", glassbox.Version, "addr", addr,
		"blob", bucket.String(), "metadata", db.Dialect())
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
	// uploaded in time stays in the spool for the next start. The metadata
	// store closes last (deferred): the uploader indexes into it.
	gw.SetReady(false)
	stopWatch()
	<-schedDone // waits for monitoring runs in progress
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

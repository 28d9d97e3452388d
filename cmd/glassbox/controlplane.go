package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
	"github.com/glassbox-dev/glassbox/internal/gateway"
	"github.com/glassbox-dev/glassbox/internal/store"
)

// BootstrapTokenEnv names the environment variable that supplies the first
// admin token instead of a generated one.
const BootstrapTokenEnv = "GLASSBOX_BOOTSTRAP_TOKEN"

// metadataURL returns storage.metadata, or the default: a SQLite file
// beside the local data folder (beside the spool for an s3:// blob).
func metadataURL(cfg *config.Config) (string, error) {
	if cfg.Storage.Metadata != "" {
		return cfg.Storage.Metadata, nil
	}
	dir := filepath.Dir(filepath.Clean(cfg.Storage.Spool))
	if config.BlobScheme(cfg.Storage.Blob) == config.BlobSchemeFile {
		p, err := config.BlobPath(cfg.Storage.Blob)
		if err != nil {
			return "", err
		}
		dir = filepath.Dir(filepath.Clean(p))
	}
	abs, err := filepath.Abs(filepath.Join(dir, "glassbox.db"))
	if err != nil {
		return "", err
	}
	return "sqlite://" + abs, nil
}

// openMetadata opens the metadata store named by the config.
func openMetadata(ctx context.Context, cfg *config.Config, log *slog.Logger) (*store.DB, error) {
	u, err := metadataURL(cfg)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, u, store.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}
	return db, nil
}

// newAuthorizer builds the authorizer from the built-in roles and the
// config's custom roles.
func newAuthorizer(cfg *config.Config) (*auth.Authorizer, error) {
	var roles []auth.Role
	for _, r := range cfg.Roles {
		ar := auth.Role{Name: r.Name, Description: r.Description}
		for _, g := range r.Grants {
			ag := auth.Grant{Endpoints: auth.Selector{Names: g.Endpoints.Names, Tags: g.Endpoints.Tags}}
			for _, a := range g.Actions {
				ag.Actions = append(ag.Actions, auth.Action(a))
			}
			ar.Grants = append(ar.Grants, ag)
		}
		roles = append(roles, ar)
	}
	return auth.NewAuthorizer(roles)
}

// endpointService validates endpoint declarations against the schema and
// the policies, and keeps the gateway serving what the store holds.
type endpointService struct {
	policies config.Policies
	store    endpoints.Store
	gw       *gateway.Gateway
	log      *slog.Logger
	// redactKey keys capture.redact's hash tokens (loadRedactKey).
	redactKey []byte
	// keysEnabled says whether the server has a keys provider, which
	// capture.encrypt needs.
	keysEnabled bool
	// compliance, if set, refuses declarations that break an enforced
	// compliance rule (auditwire.go).
	compliance *complianceService
	// onApply, if set, receives the endpoints now served after each
	// reload (the monitor scheduler's schedules follow them).
	onApply func([]config.Endpoint) error

	mu      sync.Mutex // serialises reloads
	lastRev int64
}

// Prepare implements api.EndpointService.
func (s *endpointService) Prepare(spec []byte) (endpoints.Record, error) {
	e, err := config.ParseEndpoint(spec, s.policies)
	if err != nil {
		return endpoints.Record{}, &glassbox.Error{Code: glassbox.EInvalid, Message: "invalid endpoint: " + err.Error()}
	}
	if e.Capture.Encrypt && !s.keysEnabled {
		return endpoints.Record{}, &glassbox.Error{Code: glassbox.EInvalid, Message: "invalid endpoint: capture.encrypt: this server has no keys provider (set keys.provider in its config); refusing to store captures in clear"}
	}
	if s.compliance != nil {
		if err := s.compliance.enforce(e); err != nil {
			return endpoints.Record{}, &glassbox.Error{Code: glassbox.EInvalid, Message: "invalid endpoint: " + err.Error()}
		}
	}
	// The gateway must accept it too (a build-only check, nothing changes).
	if _, err := gatewayEndpoints(&config.Config{Endpoints: []config.Endpoint{*e}}); err != nil {
		return endpoints.Record{}, &glassbox.Error{Code: glassbox.EInvalid, Message: "invalid endpoint: " + err.Error()}
	}
	b, err := config.MarshalEndpoint(e)
	if err != nil {
		return endpoints.Record{}, err
	}
	return endpoints.Record{Name: e.Name, Spec: b, Tags: e.Tags}, nil
}

// Reload implements api.EndpointService: it makes the gateway serve the
// endpoints in the store. A record that no longer validates (say, the
// policies became stricter) is left out and logged; the others serve.
func (s *endpointService) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rev, err := s.store.EndpointsRevision(ctx)
	if err != nil {
		return err
	}
	recs, err := s.store.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	cfg := &config.Config{}
	for _, r := range recs {
		e, err := config.ParseEndpoint(r.Spec, s.policies)
		if err != nil {
			s.log.Error("stored endpoint no longer valid; not served", "endpoint", r.Name, "err", err)
			continue
		}
		cfg.Endpoints = append(cfg.Endpoints, *e)
	}
	eps, err := gatewayEndpointsWithKey(cfg, s.redactKey)
	if err != nil {
		return err
	}
	if err := s.gw.Apply(eps); err != nil {
		return err
	}
	if s.onApply != nil {
		if err := s.onApply(cfg.Endpoints); err != nil {
			return err
		}
	}
	s.lastRev = rev
	return nil
}

// watch reloads whenever another process changes the endpoints, polling
// the store's revision every interval until ctx ends.
func (s *endpointService) watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rev, err := s.store.EndpointsRevision(ctx)
			if err != nil {
				s.log.Warn("poll endpoint revision", "err", err)
				continue
			}
			s.mu.Lock()
			changed := rev != s.lastRev
			s.mu.Unlock()
			if changed {
				if err := s.Reload(ctx); err != nil {
					s.log.Error("reload endpoints", "err", err)
				}
			}
		}
	}
}

// loadConfigEndpoints writes the config file's endpoints into the store.
// Endpoints the file no longer declares are removed if they came from the
// file; endpoints created through the API stay.
func loadConfigEndpoints(ctx context.Context, cfg *config.Config, st endpoints.Store, now time.Time) error {
	declared := map[string]bool{}
	for i := range cfg.Endpoints {
		e := &cfg.Endpoints[i]
		declared[e.Name] = true
		spec, err := config.MarshalEndpoint(e)
		if err != nil {
			return err
		}
		old, err := st.Endpoint(ctx, e.Name)
		if err == nil && bytes.Equal(old.Spec, spec) {
			continue
		}
		if err != nil && glassbox.ErrorCode(err) != glassbox.ENotFound {
			return err
		}
		if _, err := st.PutEndpoint(ctx, endpoints.Record{Name: e.Name, Spec: spec, Tags: e.Tags,
			UpdatedAt: now, UpdatedBy: "config", Source: "config"}, 0); err != nil {
			return fmt.Errorf("load endpoint %s into the metadata store: %w", e.Name, err)
		}
	}
	recs, err := st.ListEndpoints(ctx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Source == "config" && !declared[r.Name] {
			if err := st.DeleteEndpoint(ctx, r.Name); err != nil && glassbox.ErrorCode(err) != glassbox.ENotFound {
				return err
			}
		}
	}
	return nil
}

// bootstrapToken makes sure an admin can log in on a fresh store: when no
// token exists it creates an admin token — the one in GLASSBOX_BOOTSTRAP_TOKEN
// if set, else a random one printed once to w.
func bootstrapToken(ctx context.Context, ts auth.TokenStore, w io.Writer, now time.Time) error {
	list, err := ts.ListTokens(ctx)
	if err != nil {
		return err
	}
	if len(list) > 0 {
		return nil
	}
	plain, tok := auth.NewToken("bootstrap-admin", []string{"admin"}, "system", now, 0)
	if env := os.Getenv(BootstrapTokenEnv); env != "" {
		id, err := auth.ParseTokenID(env)
		if err != nil {
			return fmt.Errorf("%s is not a Glassbox token (want gbx_<8 chars>_<32 chars>, e.g. from 'glassbox token generate')", BootstrapTokenEnv)
		}
		plain, tok.ID, tok.Hash = env, id, auth.HashToken(env)
	}
	if err := ts.CreateToken(ctx, tok); err != nil {
		return fmt.Errorf("create bootstrap token: %w", err)
	}
	if os.Getenv(BootstrapTokenEnv) == "" {
		fmt.Fprintf(w, "\nBootstrap admin token (shown once; store it safely, then create personal tokens with 'glassbox token create'):\n\n    %s\n\n", plain)
	}
	return nil
}

// captureReader reads index entries back from the blob store.
type captureReader struct{ r *capture.Reader }

// Read implements api.CaptureReader.
func (c captureReader) Read(ctx context.Context, e capture.IndexEntry) (*capture.Record, error) {
	rec, err := c.r.ReadLine(ctx, e.Object, e.Line)
	if err != nil {
		return nil, err
	}
	if rec.EventMetadata.EventID != e.EventID {
		return nil, errors.New("capture index is stale: line " + fmt.Sprint(e.Line) + " of " + e.Object + " holds another record; run 'glassbox captures reindex'")
	}
	return rec, nil
}

// invokeAuthenticator checks data-plane tokens: the bearer token must be
// valid and its roles must grant endpoints:invoke on the endpoint. Token
// records are cached briefly so the hot path rarely reads the store; a
// revocation takes effect within tokenCacheTTL.
type invokeAuthenticator struct {
	tokens auth.TokenStore
	authz  *auth.Authorizer

	mu    sync.Mutex
	cache map[string]cachedToken
}

const tokenCacheTTL = 5 * time.Second

type cachedToken struct {
	tok     auth.Token
	err     error
	fetched time.Time
}

// AuthorizeInvoke implements gateway.Authenticator.
func (a *invokeAuthenticator) AuthorizeInvoke(r *http.Request, endpoint string, tags map[string]string) error {
	plain, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || plain == "" {
		return glassbox.Errorf(glassbox.EUnauthorized, "endpoint %s requires an API token: send Authorization: Bearer gbx_...", endpoint)
	}
	id, err := auth.ParseTokenID(strings.TrimSpace(plain))
	if err != nil {
		return glassbox.Errorf(glassbox.EUnauthorized, "invalid token")
	}
	now := time.Now()
	a.mu.Lock()
	c, hit := a.cache[id]
	a.mu.Unlock()
	if !hit || now.Sub(c.fetched) > tokenCacheTTL {
		c.tok, c.err = a.tokens.Token(r.Context(), id)
		c.fetched = now
		a.mu.Lock()
		if a.cache == nil {
			a.cache = map[string]cachedToken{}
		}
		if len(a.cache) > 10000 {
			clear(a.cache)
		}
		a.cache[id] = c
		a.mu.Unlock()
	}
	if c.err != nil {
		return glassbox.Errorf(glassbox.EUnauthorized, "invalid token")
	}
	if err := c.tok.Check(strings.TrimSpace(plain), now); err != nil {
		return glassbox.Errorf(glassbox.EUnauthorized, "invalid token: %v", err)
	}
	p := auth.Principal{ID: "token:" + c.tok.ID, Name: c.tok.Name, Roles: c.tok.Roles}
	if !a.authz.Allowed(p, auth.Invoke, auth.Resource{Endpoint: endpoint, Tags: tags}) {
		return glassbox.Errorf(glassbox.EForbidden, "token %s may not invoke endpoint %s (needs endpoints:invoke, e.g. role invoker)", c.tok.ID, endpoint)
	}
	return nil
}

package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/audit"
	"github.com/glassbox-dev/glassbox/internal/auth"
)

// Limits of the pipeline.
const (
	maxRequestIDLen = 128
	// maxDetails bounds the audit event's details, in bytes.
	maxDetails = 512
	// touchEvery throttles TouchToken: last-used times are kept to this
	// precision, so a busy token does not write on every request.
	touchEvery = time.Minute
	// auditTimeout bounds the audit append, which outlives the request's
	// own context (the client may already be gone).
	auditTimeout = 5 * time.Second
	// maxLimiters bounds the per-principal rate limiters kept in memory.
	maxLimiters = 100_000
	// anonymousActor is the audit actor of requests without a valid token.
	anonymousActor = "anonymous"
)

// requestID returns the client's request id when it is sane (1–128 of
// A-Z a-z 0-9 . _ : -) and a fresh UUID otherwise.
func requestID(s string) string {
	if s != "" && len(s) <= maxRequestIDLen && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == "" {
		return s
	}
	return uuid.NewString()
}

// recoverPanic turns a handler panic into a logged 500 with the request
// id. http.ErrAbortHandler keeps its meaning (abort the response).
func (a *API) recoverPanic(c *call, w *statusWriter, _ *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		c.err = errors.New("handler aborted")
		panic(v)
	}
	a.writeError(w, c, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
}

// finish records metrics for every request and appends the audit event of
// every routed one.
func (a *API) finish(c *call, w *statusWriter, r *http.Request, start time.Time) {
	status := w.answered()
	label := "unmatched"
	if c.rt != nil {
		label = c.rt.Method + " " + c.rt.Pattern
	}
	a.m.observe(label, status, time.Since(start))
	if c.rt == nil {
		return
	}
	ev := &audit.Event{
		Time:       a.now(),
		Actor:      anonymousActor,
		Action:     c.rt.name,
		Resource:   c.resource,
		Result:     resultOf(status, c.err),
		Status:     status,
		RequestID:  c.requestID,
		ClientAddr: clientAddr(r),
	}
	if c.authed {
		ev.Actor = c.principal.ID
	}
	details := c.details
	if c.err != nil {
		_, msg := classify(c.err)
		details = append(details, "error: "+msg)
	}
	ev.Details = truncate(strings.Join(details, " "), maxDetails)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	if err := a.store.AppendAudit(ctx, ev); err != nil {
		a.m.auditFailures.Inc()
		a.log.Error("append audit event", logRoute, label, logRequestID, c.requestID, logErr, err)
	}
}

// resultOf classifies an answer for the audit log: refusals (401, 403,
// 429) are denied, other failures errors.
func resultOf(status int, err error) string {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests:
		return audit.ResultDenied
	case err != nil || status >= 400:
		return audit.ResultError
	}
	return audit.ResultOK
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// clientAddr is the host part of the request's remote address.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// unauthorized is the 401 error with a message saying what is wrong.
func unauthorized(msg string) error {
	return &glassbox.Error{Code: glassbox.EUnauthorized, Message: msg}
}

// authenticate resolves the bearer token of r to a principal: a gbx_ API
// token from the store, any other bearer through Options.OIDC when set
// (every OIDC failure is "invalid token"; the reason is logged at debug).
// Its errors say whether the token was missing, malformed, invalid
// (unknown id or wrong secret: the two are not told apart), revoked or
// expired.
func (a *API) authenticate(ctx context.Context, r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Principal{}, unauthorized("missing token: send Authorization: Bearer " + auth.TokenPrefix + "...")
	}
	scheme, plain, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return auth.Principal{}, unauthorized("malformed Authorization header: want Bearer " + auth.TokenPrefix + "...")
	}
	plain = strings.TrimSpace(plain)
	if a.opts.OIDC != nil && plain != "" && !strings.HasPrefix(plain, auth.TokenPrefix) {
		p, err := a.opts.OIDC.VerifyAccessToken(ctx, plain)
		if err != nil {
			a.log.Debug("oidc token refused", logErr, err)
			return auth.Principal{}, unauthorized("invalid token")
		}
		return p, nil
	}
	id, err := auth.ParseTokenID(plain)
	if err != nil {
		return auth.Principal{}, unauthorized("malformed token: want " + auth.TokenPrefix + "<id>_<secret>")
	}
	t, err := a.store.Token(ctx, id)
	if err != nil {
		if errors.Is(err, auth.ErrUnknownToken) || glassbox.ErrorCode(err) == glassbox.ENotFound {
			_ = auth.HashToken(plain) // spend what a known id costs
			return auth.Principal{}, unauthorized("invalid token")
		}
		return auth.Principal{}, fmt.Errorf("look up token: %w", err)
	}
	now := a.now()
	switch err := t.Check(plain, now); {
	case errors.Is(err, auth.ErrRevoked):
		return auth.Principal{}, unauthorized("token revoked")
	case errors.Is(err, auth.ErrExpired):
		return auth.Principal{}, unauthorized("token expired")
	case err != nil:
		return auth.Principal{}, unauthorized("invalid token")
	}
	if t.LastUsed == nil || now.Sub(*t.LastUsed) >= touchEvery {
		// Best-effort: a failed touch must not refuse a valid token.
		if err := a.store.TouchToken(ctx, t.ID, now); err != nil {
			a.log.Debug("touch token", "token", t.ID, logErr, err)
		}
	}
	return auth.Principal{ID: "token:" + t.ID, Name: t.Name, Roles: t.Roles}, nil
}

// limiter keeps one token bucket per principal. It is safe for
// concurrent use.
type limiter struct {
	limit rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{limit: rate.Limit(perSecond), burst: burst, m: map[string]*rate.Limiter{}}
}

// allow takes one token from key's bucket, or reports how long until one
// is available.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		if len(l.m) >= maxLimiters {
			l.sweep(now)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.m[key] = lim
	}
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets buckets that are full again (their principals have been
// idle); if that frees nothing, it forgets every bucket. Callers hold mu.
func (l *limiter) sweep(now time.Time) {
	for k, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxLimiters {
		clear(l.m)
	}
}

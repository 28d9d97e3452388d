// Package notify delivers monitoring notifications to people and systems:
// Webhook POSTs each monitor.Notification as signed JSON to configured
// URLs. It is an adapter (rank 3): it imports monitor for its types and
// net/http for the client; nothing in the domain imports it.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/monitor"
)

// Headers of a webhook delivery. The signature covers the timestamp and the
// body: X-Glassbox-Signature is "sha256=" followed by the lower-case hex of
// HMAC-SHA256(secret, timestamp + "." + body). See docs/alerts.md.
const (
	HeaderTimestamp = "X-Glassbox-Timestamp" // Unix seconds, decimal
	HeaderSignature = "X-Glassbox-Signature"
	HeaderDelivery  = "X-Glassbox-Delivery" // the same id on every attempt of one delivery
	signaturePrefix = "sha256="
)

// Defaults of WebhookTarget and WebhookOptions.
const (
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultWebhookMaxAttempts = 5
	DefaultBackoff            = time.Second
	DefaultMaxBackoff         = 30 * time.Second
)

// maxResponseDrain is how much of a receiver's answer is read (and
// discarded) so that the connection can be reused.
const maxResponseDrain = 64 << 10

// ErrBadSignature is Verify's error for a signature that does not match.
var ErrBadSignature = errors.New("webhook signature does not match")

// Interface guard.
var _ monitor.Notifier = (*Webhook)(nil)

// WebhookTarget is one receiver.
type WebhookTarget struct {
	// Name identifies the target in errors and logs.
	Name string
	// URL is an absolute http or https URL.
	URL string
	// Secret keys the signature; "" sends deliveries unsigned.
	Secret string
	// Timeout bounds one attempt. Default 10s.
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one delivery. Default 5.
	MaxAttempts int
}

// WebhookOptions configure a Webhook.
type WebhookOptions struct {
	Targets []WebhookTarget
	// Client sends the requests; nil means a client that follows no
	// redirects (a 3xx answer is a permanent failure).
	Client *http.Client
	// Backoff is the wait after the first failed attempt; it doubles after
	// each further one, up to MaxBackoff. A Retry-After header (seconds or
	// an HTTP date) replaces it, capped at MaxBackoff. Defaults 1s and 30s.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Now is the clock of the timestamp header; nil means time.Now.
	Now func() time.Time
	// Logger receives failed attempts at debug level; nil discards.
	Logger *slog.Logger
}

// Webhook POSTs notifications to every target. It is safe for concurrent
// use; Apply replaces the targets.
type Webhook struct {
	client  *http.Client
	backoff time.Duration
	maxWait time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu      sync.RWMutex
	targets []WebhookTarget
}

// NewWebhook checks the targets and returns a Webhook.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	w := &Webhook{client: o.Client, backoff: o.Backoff, maxWait: o.MaxBackoff, now: o.Now, log: o.Logger}
	if w.client == nil {
		w.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if w.backoff <= 0 {
		w.backoff = DefaultBackoff
	}
	if w.maxWait <= 0 {
		w.maxWait = DefaultMaxBackoff
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("component", "notify")
	if err := w.Apply(o.Targets); err != nil {
		return nil, err
	}
	return w, nil
}

// Apply checks and replaces the targets (for a config reload); on error
// the old ones stay.
func (w *Webhook) Apply(targets []WebhookTarget) error {
	out := make([]WebhookTarget, len(targets))
	for i, t := range targets {
		u, err := url.Parse(t.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("webhook %q: url %q: want an absolute http:// or https:// URL", t.Name, t.URL)
		}
		if t.Timeout <= 0 {
			t.Timeout = DefaultWebhookTimeout
		}
		if t.MaxAttempts <= 0 {
			t.MaxAttempts = DefaultWebhookMaxAttempts
		}
		out[i] = t
	}
	w.mu.Lock()
	w.targets = out
	w.mu.Unlock()
	return nil
}

// Notify delivers n to every target at once and returns when all are done:
// nil when every target accepted it (2xx), else the joined errors of those
// that did not. Each target retries network errors, timeouts, 5xx and 429
// answers up to its MaxAttempts; other answers fail at once. ctx bounds the
// whole call.
func (w *Webhook) Notify(ctx context.Context, n monitor.Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	return w.post(ctx, body)
}

// post delivers body to every target at once, as Notify describes.
func (w *Webhook) post(ctx context.Context, body []byte) error {
	w.mu.RLock()
	targets := w.targets
	w.mu.RUnlock()
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	delivery := uuid.NewString()
	for i, t := range targets {
		wg.Go(func() { errs[i] = w.deliver(ctx, t, delivery, body) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deliver sends body to one target with retries.
func (w *Webhook) deliver(ctx context.Context, t WebhookTarget, delivery string, body []byte) error {
	wait := w.backoff
	var last error
	for attempt := 1; ; attempt++ {
		retry, after, err := w.attempt(ctx, t, delivery, body)
		if err == nil {
			return nil
		}
		last = err
		w.log.Debug("webhook attempt failed", "webhook", t.Name, "attempt", attempt, "err", err)
		if !retry || attempt >= t.MaxAttempts {
			break
		}
		d := wait
		if after > 0 {
			d = after
		}
		d = min(d, w.maxWait)
		wait = min(wait*2, w.maxWait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("webhook %q: gave up after %d attempt(s): %w (last: %w)", t.Name, attempt, ctx.Err(), last)
		case <-time.After(d):
		}
	}
	return fmt.Errorf("webhook %q: %w", t.Name, last)
}

// attempt makes one request. It reports whether a failure may be retried
// and how long the receiver asked to wait (Retry-After), if it did.
func (w *Webhook) attempt(ctx context.Context, t WebhookTarget, delivery string, body []byte) (retry bool, after time.Duration, err error) {
	actx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return false, 0, fmt.Errorf("build request: %w", err)
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "glassbox/"+glassbox.Version)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderDelivery, delivery)
	if t.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(t.Secret, ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// Network errors and timeouts; not the caller's own cancellation.
		return ctx.Err() == nil, 0, fmt.Errorf("post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseDrain))
	_ = resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, 0, nil
	case c == http.StatusTooManyRequests || c >= 500:
		return true, retryAfter(resp.Header.Get("Retry-After"), w.now()), fmt.Errorf("receiver answered %s", resp.Status)
	default:
		return false, 0, fmt.Errorf("receiver answered %s (not retried)", resp.Status)
	}
}

// retryAfter parses a Retry-After value: seconds or an HTTP date; 0 when
// absent or unparsable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Sign returns the X-Glassbox-Signature value of a delivery:
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery's signature for receivers written in Go: nil
// when signature is Sign(secret, timestamp, body), else ErrBadSignature.
// It compares in constant time. Receivers should also refuse timestamps
// more than a few minutes from their clock, to stop replays.
func Verify(secret, timestamp string, body []byte, signature string) error {
	if !hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(strings.TrimSpace(signature))) {
		return ErrBadSignature
	}
	return nil
}

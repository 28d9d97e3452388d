package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/monitor"
	"github.com/glassbox-dev/glassbox/internal/notify"
)

// delivery is one request a test receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a loopback webhook receiver that answers with statuses in
// turn (the last one repeats) and records every request.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []delivery
	statuses []int
	header   http.Header // added to every answer
	hang     time.Duration
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses, header: http.Header{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{req.Header.Clone(), body})
		n := len(r.got)
		status := r.statuses[min(n, len(r.statuses))-1]
		hang := r.hang
		r.mu.Unlock()
		if hang > 0 && n == 1 {
			select {
			case <-time.After(hang):
			case <-req.Context().Done():
				return
			}
		}
		for k, v := range r.header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func notification() monitor.Notification {
	return monitor.Notification{
		Type: monitor.NotificationType,
		Execution: monitor.Execution{ID: "e1", Endpoint: "churn", Schedule: "hourly", Status: monitor.ExecutionCompletedWithViolations,
			ScheduledTime: time.Date(2026, 3, 10, 17, 0, 0, 0, time.UTC), Violations: 1},
		Summary:           "churn/hourly: 1 violation",
		ViolationsByCheck: map[string]int{monitor.CheckBaselineDrift: 1},
		Violations:        []monitor.Violation{{FeatureName: "age", ConstraintCheckType: monitor.CheckBaselineDrift, Description: "drift"}},
	}
}

func newWebhook(t *testing.T, targets ...notify.WebhookTarget) *notify.Webhook {
	t.Helper()
	w, err := notify.NewWebhook(notify.WebhookOptions{Targets: targets, Backoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhook_retriesThenSucceeds(t *testing.T) {
	r := newReceiver(t, 503, 429, 200)
	w := newWebhook(t, notify.WebhookTarget{Name: "ops", URL: r.URL, Secret: "s3cret"})
	if err := w.Notify(t.Context(), notification()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	got := r.deliveries()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	for i, d := range got {
		ts, sig := d.header.Get(notify.HeaderTimestamp), d.header.Get(notify.HeaderSignature)
		if err := notify.Verify("s3cret", ts, d.body, sig); err != nil {
			t.Errorf("attempt %d: %v (ts %q sig %q)", i, err, ts, sig)
		}
		if d.header.Get("Content-Type") != "application/json" || d.header.Get(notify.HeaderDelivery) != got[0].header.Get(notify.HeaderDelivery) {
			t.Errorf("attempt %d headers %v", i, d.header)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(got[2].body, &body); err != nil {
		t.Fatal(err)
	}
	exec, _ := body["execution"].(map[string]any)
	if body["type"] != "monitor.execution" || exec["scheduled_time"] != "2026-03-10T17:00:00Z" || body["violations_by_check"] == nil {
		t.Errorf("body = %s", got[2].body)
	}
}

func TestWebhook_givesUpOn4xx(t *testing.T) {
	r := newReceiver(t, 400)
	w := newWebhook(t, notify.WebhookTarget{Name: "ops", URL: r.URL})
	err := w.Notify(t.Context(), notification())
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), `webhook "ops"`) {
		t.Fatalf("Notify = %v, want a 400 error naming the webhook", err)
	}
	if n := len(r.deliveries()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	if h := r.deliveries()[0].header.Get(notify.HeaderSignature); h != "" {
		t.Errorf("unsigned target sent signature %q", h)
	}
}

func TestWebhook_maxAttempts(t *testing.T) {
	r := newReceiver(t, 500)
	w := newWebhook(t, notify.WebhookTarget{Name: "ops", URL: r.URL, MaxAttempts: 3})
	if err := w.Notify(t.Context(), notification()); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("Notify = %v", err)
	}
	if n := len(r.deliveries()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestWebhook_timeoutIsRetried(t *testing.T) {
	r := newReceiver(t, 200)
	r.hang = 5 * time.Second // the first attempt only
	w := newWebhook(t, notify.WebhookTarget{Name: "ops", URL: r.URL, Timeout: 50 * time.Millisecond})
	start := time.Now()
	if err := w.Notify(t.Context(), notification()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v; the attempt timeout did not apply", d)
	}
	if n := len(r.deliveries()); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestWebhook_contextBoundsRetries(t *testing.T) {
	r := newReceiver(t, 503)
	r.header.Set("Retry-After", "3600") // capped by MaxBackoff, then by ctx
	w, err := notify.NewWebhook(notify.WebhookOptions{Targets: []notify.WebhookTarget{{Name: "ops", URL: r.URL, MaxAttempts: 100}},
		Backoff: 10 * time.Second, MaxBackoff: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = w.Notify(ctx, notification())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Notify = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Notify took %v after its context ended", d)
	}
}

func TestWebhook_fansOut(t *testing.T) {
	ok, bad := newReceiver(t, 204), newReceiver(t, 404)
	w := newWebhook(t, notify.WebhookTarget{Name: "a", URL: ok.URL}, notify.WebhookTarget{Name: "b", URL: bad.URL})
	err := w.Notify(t.Context(), notification())
	if err == nil || !strings.Contains(err.Error(), `webhook "b"`) || strings.Contains(err.Error(), `webhook "a"`) {
		t.Errorf("Notify = %v, want only b's failure", err)
	}
	if len(ok.deliveries()) != 1 {
		t.Error("a got nothing")
	}
	// Apply replaces the targets; a bad URL keeps the old ones.
	if err := w.Apply([]notify.WebhookTarget{{Name: "x", URL: "ftp://x"}}); err == nil {
		t.Error("Apply accepted ftp://")
	}
	if err := w.Apply([]notify.WebhookTarget{{Name: "a", URL: ok.URL}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Notify(t.Context(), notification()); err != nil {
		t.Errorf("after Apply: %v", err)
	}
}

func TestWebhook_noRedirects(t *testing.T) {
	target := newReceiver(t, 200)
	r := newReceiver(t, 307)
	r.header.Set("Location", target.URL)
	w := newWebhook(t, notify.WebhookTarget{Name: "ops", URL: r.URL})
	if err := w.Notify(t.Context(), notification()); err == nil {
		t.Error("a redirect counted as delivered")
	}
	if len(target.deliveries()) != 0 {
		t.Error("the redirect was followed")
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"type":"monitor.execution"}`)
	// Fixed vector, computed independently:
	// printf '1700000000.{"type":"monitor.execution"}' | openssl dgst -sha256 -hmac key
	const want = "sha256=27d50cfd64a7edb97cb0e1b826d7286db931ae860d75629f4fa493da864ffaed"
	sig := notify.Sign("key", "1700000000", body)
	if sig != want {
		t.Fatalf("Sign = %q", sig)
	}
	if err := notify.Verify("key", "1700000000", body, sig); err != nil {
		t.Errorf("Verify(own signature) = %v", err)
	}
	for name, tc := range map[string][4]string{
		"secret":    {"other", "1700000000", string(body), sig},
		"timestamp": {"key", "1700000001", string(body), sig},
		"body":      {"key", "1700000000", string(body) + " ", sig},
		"empty":     {"key", "1700000000", string(body), ""},
	} {
		if err := notify.Verify(tc[0], tc[1], []byte(tc[2]), tc[3]); !errors.Is(err, notify.ErrBadSignature) {
			t.Errorf("%s changed: Verify = %v, want ErrBadSignature", name, err)
		}
	}
}

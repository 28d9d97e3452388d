package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

// seedCaptures indexes n entries of endpoint, one a second from base.
func seedCaptures(t *testing.T, e *env, endpoint string, n int, base time.Time) []capture.IndexEntry {
	t.Helper()
	entries := make([]capture.IndexEntry, n)
	for i := range entries {
		entries[i] = capture.IndexEntry{
			EventID: fmt.Sprintf("%s-evt-%04d", endpoint, i), InferenceID: fmt.Sprintf("inf-%d", i%7),
			Endpoint: endpoint, Variant: []string{"a", "b"}[i%2], Time: base.Add(time.Duration(i) * time.Second),
			Status: 200, Object: endpoint + "/obj.jsonl", Line: i + 1,
		}
	}
	if err := e.db.IndexCaptures(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestCaptures_ListPages(t *testing.T) {
	e := newEnv(t, nil)
	e.seedEndpoint("churn", nil)
	base := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	seeded := seedCaptures(t, e, "churn", 250, base)
	seedCaptures(t, e, "fraud", 5, base)
	viewer := e.token("viewer")

	var got []capture.IndexEntry
	next, pages := "", 0
	for {
		q := url.Values{"endpoint": {"churn"}, "limit": {"100"}}
		if next != "" {
			q.Set("next", next)
		}
		r := e.get(viewer, "/api/v1/captures?"+q.Encode())
		want(t, r, http.StatusOK)
		var page struct {
			Items []capture.IndexEntry
			Next  string
		}
		r.json(t, &page)
		pages++
		got = append(got, page.Items...)
		if page.Next == "" {
			if len(page.Items) != 50 {
				t.Fatalf("last page has %d items, want 50", len(page.Items))
			}
			break
		}
		if len(page.Items) != 100 || pages > 3 {
			t.Fatalf("page %d has %d items", pages, len(page.Items))
		}
		next = page.Next
	}
	if pages != 3 || len(got) != 250 {
		t.Fatalf("%d pages, %d entries", pages, len(got))
	}
	for i, g := range got {
		if g.EventID != seeded[i].EventID || !g.Time.Equal(seeded[i].Time) {
			t.Fatalf("entry %d is %s at %v, want %s", i, g.EventID, g.Time, seeded[i].EventID)
		}
	}

	// Filters.
	var page struct{ Items []capture.IndexEntry }
	q := url.Values{"endpoint": {"churn"}, "variant": {"b"}, "since": {base.Add(10 * time.Second).Format(time.RFC3339)},
		"until": {base.Add(20 * time.Second).Format(time.RFC3339)}}
	e.get(viewer, "/api/v1/captures?"+q.Encode()).json(t, &page)
	if len(page.Items) != 5 || page.Items[0].EventID != "churn-evt-0011" {
		t.Fatalf("filtered: %+v", page.Items)
	}
	// Lookup by inference id spans endpoints.
	e.get(viewer, "/api/v1/captures?inference_id=inf-3").json(t, &page)
	if n := len(page.Items); n != 36+1 { // 250 entries: i%7==3 → 36; fraud: i=3
		t.Fatalf("inference_id lookup: %d entries", n)
	}
	// Bad requests.
	wantError(t, e.get(viewer, "/api/v1/captures"), http.StatusBadRequest, "endpoint")
	wantError(t, e.get(viewer, "/api/v1/captures?endpoint=churn&since=yesterday"), http.StatusBadRequest, "since")
	wantError(t, e.get(viewer, "/api/v1/captures?endpoint=churn&limit=1001"), http.StatusBadRequest, "limit")
	wantError(t, e.get(viewer, "/api/v1/captures?endpoint=churn&next=garbage"), http.StatusBadRequest, "next")
	// A cursor of another list is refused.
	var eps struct{ Next string }
	e.seedEndpoint("fraud", nil)
	e.get(viewer, "/api/v1/endpoints?limit=1").json(t, &eps)
	if eps.Next == "" {
		t.Fatal("endpoint list of 2 with limit=1 has no next")
	}
	wantError(t, e.get(viewer, "/api/v1/captures?endpoint=churn&next="+eps.Next), http.StatusBadRequest, "next")
}

func TestCaptures_GetWithPayload(t *testing.T) {
	e := newEnv(t, nil)
	e.seedEndpoint("churn", nil)
	entries := seedCaptures(t, e, "churn", 1, time.Now().UTC().Truncate(time.Second))
	id := entries[0].EventID
	viewer, ds, other := e.token("viewer"), e.token("data-scientist"), e.token("other-endpoint")

	r := e.get(viewer, "/api/v1/captures/"+id)
	want(t, r, http.StatusOK)
	if strings.Contains(string(r.body), "SECRET-PAYLOAD") || strings.Contains(string(r.body), `"record"`) {
		t.Fatalf("metadata answer holds the payload: %s", r.body)
	}
	wantError(t, e.get(viewer, "/api/v1/captures/"+id+"?payload=true"), http.StatusForbidden, "captures:read-payload on endpoint churn")
	wantError(t, e.get(other, "/api/v1/captures/"+id), http.StatusForbidden, "captures:read-metadata on endpoint churn")

	r = e.get(ds, "/api/v1/captures/"+id+"?payload=true")
	want(t, r, http.StatusOK)
	var full struct {
		EventID string `json:"event_id"`
		Record  *capture.Record
	}
	r.json(t, &full)
	if full.EventID != id || full.Record == nil || full.Record.CaptureData.EndpointInput.Data != "SECRET-PAYLOAD,1,2" {
		t.Fatalf("payload answer %s", r.body)
	}
	// The payload is never audited.
	ev := e.auditFor(r.header.Get("X-Request-Id"))
	if ev.Action != "captures.get" || ev.Resource != "capture/"+id || !strings.Contains(ev.Details, "payload=true") || strings.Contains(ev.Details, "SECRET") {
		t.Fatalf("audit %+v", ev)
	}
	wantError(t, e.get(ds, "/api/v1/captures/nope"), http.StatusNotFound, "nope")
	wantError(t, e.get(ds, "/api/v1/captures/"+id+"?payload=maybe"), http.StatusBadRequest, "payload")
	// Another principal's inference-id lookup leaves out what it may not see.
	var page struct{ Items []capture.IndexEntry }
	e.get(other, "/api/v1/captures?inference_id="+entries[0].InferenceID).json(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("other-endpoint sees %+v", page.Items)
	}
}

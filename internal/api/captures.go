package api

import (
	"context"
	"net/http"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/capture"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
)

// captureView is the JSON shape of GET /captures/{id}: the index entry,
// plus the full record when ?payload=true.
type captureView struct {
	capture.IndexEntry
	Record *capture.Record `json:"record,omitempty"`
}

// endpointFor returns what authorization needs about endpoint name: the
// stored record (for its tags), or just the name when the endpoint is gone
// but its captures remain.
func (a *API) endpointFor(ctx context.Context, name string) (endpoints.Record, error) {
	rec, exists, err := a.lookupEndpoint(ctx, name)
	if err != nil || !exists {
		return endpoints.Record{Name: name}, err
	}
	return rec, nil
}

// listCaptures serves GET /captures: an endpoint's index entries in time
// order (?endpoint= required, paged), or every entry of ?inference_id=
// the caller may see.
func (a *API) listCaptures(c *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	name := q.Get("endpoint")
	if iid := q.Get("inference_id"); iid != "" {
		return a.capturesByInferenceID(c, w, r, iid, name)
	}
	if name == "" {
		return glassbox.Errorf(glassbox.EInvalid, "endpoint: required (or inference_id)")
	}
	c.detail("endpoint=%s", name)
	ep, err := a.endpointFor(ctx, name)
	if err != nil {
		return err
	}
	if err := a.require(c, auth.CapturesReadMetadata, ep); err != nil {
		return err
	}
	pg, err := parsePage(r, "captures")
	if err != nil {
		return err
	}
	f := capture.IndexFilter{Endpoint: name, Variant: q.Get("variant"), Limit: pg.limit + 1}
	if f.Since, err = timeParam(r, "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(r, "until"); err != nil {
		return err
	}
	if pg.after != nil {
		f.AfterTime, f.AfterEventID = pg.after.Time, pg.after.Key
	}
	entries, err := a.store.ListCaptures(ctx, f)
	if err != nil {
		return err
	}
	out := list[capture.IndexEntry]{Items: entries}
	if len(entries) > pg.limit {
		last := entries[pg.limit-1]
		out.Items, out.Next = entries[:pg.limit], cursor{Kind: "captures", Key: last.EventID, Time: last.Time}.encode()
	}
	if out.Items == nil {
		out.Items = []capture.IndexEntry{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// capturesByInferenceID answers the entries of one inference id (on
// endpoint, if not ""), leaving out those of endpoints the caller may not
// read. The answer is a single page.
func (a *API) capturesByInferenceID(c *call, w http.ResponseWriter, r *http.Request, iid, endpoint string) error {
	ctx := r.Context()
	c.detail("inference_id=%s", truncate(iid, 64))
	entries, err := a.store.CapturesByInferenceID(ctx, iid)
	if err != nil {
		return err
	}
	out := list[capture.IndexEntry]{Items: []capture.IndexEntry{}}
	seen := map[string]bool{} // endpoint → allowed
	for _, e := range entries {
		if endpoint != "" && e.Endpoint != endpoint {
			continue
		}
		ok, known := seen[e.Endpoint]
		if !known {
			ep, err := a.endpointFor(ctx, e.Endpoint)
			if err != nil {
				return err
			}
			ok = a.allowed(c, auth.CapturesReadMetadata, ep)
			seen[e.Endpoint] = ok
		}
		if ok {
			out.Items = append(out.Items, e)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getCapture serves GET /captures/{id}: the index entry; with
// ?payload=true also the record read from the blob store, which needs
// captures:read-payload on the entry's endpoint.
func (a *API) getCapture(c *call, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	payload, err := boolParam(r, "payload")
	if err != nil {
		return err
	}
	e, err := a.store.CaptureByEventID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	c.detail("endpoint=%s payload=%t", e.Endpoint, payload)
	ep, err := a.endpointFor(ctx, e.Endpoint)
	if err != nil {
		return err
	}
	if err := a.require(c, auth.CapturesReadMetadata, ep); err != nil {
		return err
	}
	out := captureView{IndexEntry: e}
	if payload {
		if err := a.require(c, auth.CapturesReadPayload, ep); err != nil {
			return err
		}
		if a.opts.Captures == nil {
			return glassbox.Errorf(glassbox.ENotSupported, "this server reads no capture payloads")
		}
		if out.Record, err = a.opts.Captures.Read(ctx, e); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox"
)

// Paging limits of list routes.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// list is the JSON shape of every list answer. Next is empty on the last
// page; otherwise pass it back as ?next= (with the same filters).
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// cursor is the position a list continues after. It travels base64url-
// encoded JSON and is opaque to clients; Kind stops a cursor of one list
// being replayed on another.
type cursor struct {
	Kind string    `json:"k"`
	Key  string    `json:"s,omitempty"`
	Time time.Time `json:"t,omitzero"`
}

// encode returns the opaque form of c.
func (c cursor) encode() string {
	b, _ := json.Marshal(c) // a struct of strings and a time cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// page is a list request's limit and position.
type page struct {
	limit int
	after *cursor // nil on the first page
}

// parsePage reads ?limit= and ?next= of a list of the given kind.
func parsePage(r *http.Request, kind string) (page, error) {
	limit, err := parseLimit(r)
	if err != nil {
		return page{}, err
	}
	p := page{limit: limit}
	if s := r.URL.Query().Get("next"); s != "" {
		var c cursor
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || json.Unmarshal(b, &c) != nil || c.Kind != kind {
			return p, glassbox.Errorf(glassbox.EInvalid, "next %q is not a cursor of this list: pass back the next value of the previous page", truncate(s, 64))
		}
		p.after = &c
	}
	return p, nil
}

// parseLimit reads ?limit=: default 100, at most 1000.
func parseLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, glassbox.Errorf(glassbox.EInvalid, "limit %q: want a whole number from 1 to %d", truncate(s, 32), maxLimit)
	}
	return n, nil
}

// timeParam reads an optional RFC 3339 time from the query.
func timeParam(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, glassbox.Errorf(glassbox.EInvalid, "%s %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", name, truncate(s, 64))
	}
	return t, nil
}

// boolParam reads an optional boolean from the query.
func boolParam(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, glassbox.Errorf(glassbox.EInvalid, "%s %q: want true or false", name, truncate(s, 64))
	}
	return v, nil
}

// Body formats.
const (
	formatJSON = "json"
	formatYAML = "yaml"
)

// bodyFormat tells a JSON body from a YAML one by Content-Type. With
// allowYAML false only JSON (or no Content-Type) is accepted.
func bodyFormat(r *http.Request, allowYAML bool) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return formatJSON, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err != nil:
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return formatJSON, nil
	case allowYAML && (mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" || mt == "text/x-yaml"):
		return formatYAML, nil
	}
	want := "application/json"
	if allowYAML {
		want += " or application/yaml"
	}
	return "", glassbox.Errorf(glassbox.EInvalid, "Content-Type %q: want %s", truncate(ct, 64), want)
}

// readBody reads the whole (size-limited) request body; an empty body is
// an error.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err // classify answers 413 with the limit
		}
		return nil, &glassbox.Error{Code: glassbox.EInvalid, Message: "read request body", Err: err}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, glassbox.Errorf(glassbox.EInvalid, "the request needs a body")
	}
	return b, nil
}

// decodeJSON decodes one JSON value strictly: unknown fields and trailing
// data are errors.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return glassbox.Errorf(glassbox.EInvalid, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return glassbox.Errorf(glassbox.EInvalid, "invalid JSON body: data after the first value")
	}
	return nil
}

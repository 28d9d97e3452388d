package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/glassbox-dev/glassbox"
	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/endpoints"
)

// Error codes the API answers beyond the glassbox ones. They exist only at
// this edge: no domain operation fails with them.
const (
	codeRateLimited      = "rate_limited"       // 429
	codeMethodNotAllowed = "method_not_allowed" // 405
)

// Log attribute keys (STYLE.md: constants in one file per component).
const (
	logErr       = "err"
	logRequestID = "request_id"
	logRoute     = "route"
	logStatus    = "status"
	logStack     = "stack"
)

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

// errorDetail is the inside of errorBody.
type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// statusOf maps error codes to HTTP statuses: the API's own two codes here,
// everything else through the shared glassbox.HTTPStatus.
func statusOf(code string) int {
	switch code {
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case codeRateLimited:
		return http.StatusTooManyRequests
	}
	return glassbox.HTTPStatus(code)
}

// classify returns the code and client message of err. Sentinels of the
// domain packages and of net/http that callers do not wrap in a
// *glassbox.Error get their code here; anything unknown is internal, and
// internal errors are answered "internal error" only.
func classify(err error) (code, msg string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return glassbox.ETooLarge, "request body exceeds the limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes"
	case errors.Is(err, endpoints.ErrVersionConflict):
		code, msg = glassbox.EConflict, endpoints.ErrVersionConflict.Error()
	case errors.Is(err, auth.ErrUnknownToken):
		code, msg = glassbox.ENotFound, "no such token"
	case errors.Is(err, context.DeadlineExceeded):
		code, msg = glassbox.ETimeout, "the request timed out"
	}
	var ge *glassbox.Error
	if errors.As(err, &ge) {
		code, msg = ge.Code, glassbox.ErrorMessage(err)
	}
	if code == "" || code == glassbox.EInternal {
		return glassbox.EInternal, "internal error"
	}
	return code, msg
}

// writeError answers err as JSON with its request id and remembers it for
// the audit event. Internal errors are logged. When the answer has already
// started (a stream broke), it only logs.
func (a *API) writeError(w *statusWriter, c *call, err error) {
	c.err = err
	code, msg := classify(err)
	status := statusOf(code)
	route := "unmatched"
	if c.rt != nil {
		route = c.rt.Method + " " + c.rt.Pattern
	}
	if status >= 500 || w.wrote {
		a.log.Error("api request failed", logRoute, route, logRequestID, c.requestID, logStatus, status, logErr, err)
	}
	if w.wrote {
		return
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="glassbox", error="invalid_token"`)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg, RequestID: c.requestID}})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away: nothing left to tell it
}

// statusWriter records the status answered, for metrics and the audit log.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// WriteHeader records the status.
func (w *statusWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write records an implicit 200.
func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush on the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// answered is the status the client got: 200 when the handler wrote
// nothing.
func (w *statusWriter) answered() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.status
}

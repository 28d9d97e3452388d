// Package api is the control-plane JSON HTTP API served under /api/v1:
// endpoints as data (CRUD and 'glassbox apply'), the capture index, API
// tokens, roles and the audit log.
//
// Every request goes through one pipeline, in this order: request id,
// panic recovery, body limit, routing (404/405), authentication (bearer
// token), rate limit per principal, authorization of the route's action,
// the handler, and finally an audit event for every routed request, the
// refused ones (401, 403, 429) included. Handlers return errors; one
// function (statusOf) maps error codes to HTTP statuses and one (writeError)
// writes the JSON error body carrying the request id.
//
// It is an edge (rank 4): it imports the root vocabulary, the domain
// packages auth, audit, endpoints and capture, and no adapter. The metadata
// store arrives as the Store interface, endpoint validation and gateway
// reloads as the EndpointService interface, and capture payloads as the
// CaptureReader interface; cmd/glassbox passes the concrete values.
package api

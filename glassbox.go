// Package glassbox holds the vocabulary shared by every Glassbox package: the
// application error type with its codes, and the build version. It imports the
// standard library only, so any package may depend on it.
package glassbox

import (
	"errors"
	"fmt"
)

// Version is the build version. The Makefile injects it with
// -ldflags "-X github.com/glassbox-dev/glassbox.Version=...".
var Version = "dev"

// Error codes. Edges (the gateway, the API, the CLI) map each code to an HTTP
// status or an exit code in exactly one place.
const (
	EInvalid      = "invalid"       // the input is malformed or breaks a rule
	ENotFound     = "not_found"     // the named thing does not exist
	EConflict     = "conflict"      // the change clashes with the current state
	ETooLarge     = "too_large"     // a body or value exceeds its limit
	EUnavailable  = "unavailable"   // a dependency is down or overloaded
	ETimeout      = "timeout"       // a dependency did not answer in time
	EUnauthorized = "unauthorized"  // no valid credentials were presented
	EForbidden    = "forbidden"     // the principal may not do this
	EInternal     = "internal"      // a bug or an unexpected failure
	EBadGateway   = "bad_gateway"   // an upstream failed or answered nonsense
	ENotSupported = "not_supported" // the feature is not available in this build
)

// Error is an application error: a machine-readable code and a message meant
// for a person. Err, when set, is the underlying cause.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil && e.Message != "" {
		return e.Message + ": " + e.Err.Error()
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause so that errors.Is and errors.As see through Error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the person-readable message of err: the Message of the
// first *Error in its chain, or "internal error" for anything else, so that
// internal details never leak to clients.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "internal error"
}

// HTTPStatus is the one mapping from error codes to HTTP statuses, shared
// by every HTTP edge (gateway, API). Unknown codes map to 500.
func HTTPStatus(code string) int {
	switch code {
	case EInvalid:
		return 400
	case EUnauthorized:
		return 401
	case EForbidden:
		return 403
	case ENotFound:
		return 404
	case EConflict:
		return 409
	case ETooLarge:
		return 413
	case ENotSupported:
		return 501
	case EBadGateway:
		return 502
	case EUnavailable:
		return 503
	case ETimeout:
		return 504
	}
	return 500
}

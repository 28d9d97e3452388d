package glassbox_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/glassbox-dev/glassbox"
)

func TestHTTPStatus(t *testing.T) {
	for code, want := range map[string]int{
		glassbox.EInvalid: 400, glassbox.EUnauthorized: 401, glassbox.EForbidden: 403, glassbox.ENotFound: 404,
		glassbox.EConflict: 409, glassbox.ETooLarge: 413, glassbox.EInternal: 500, glassbox.ENotSupported: 501,
		glassbox.EBadGateway: 502, glassbox.EUnavailable: 503, glassbox.ETimeout: 504, "something-else": 500,
	} {
		if got := glassbox.HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	inner := glassbox.Errorf(glassbox.ENotFound, "no endpoint %q", "x")
	wrapped := fmt.Errorf("load: %w", inner)
	if got := glassbox.ErrorCode(wrapped); got != glassbox.ENotFound {
		t.Errorf("ErrorCode(wrapped) = %q", got)
	}
	if got := glassbox.ErrorMessage(wrapped); got != `no endpoint "x"` {
		t.Errorf("ErrorMessage(wrapped) = %q", got)
	}
	if got := glassbox.ErrorCode(errors.New("boom")); got != glassbox.EInternal {
		t.Errorf("ErrorCode(plain) = %q, want internal", got)
	}
	if got := glassbox.ErrorMessage(errors.New("secret detail")); got != "internal error" {
		t.Errorf("ErrorMessage(plain) = %q leaks the cause", got)
	}
	if glassbox.ErrorCode(nil) != "" {
		t.Error("ErrorCode(nil) is not empty")
	}
}

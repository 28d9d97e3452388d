package config_test

import (
	"slices"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/auth"
	"github.com/glassbox-dev/glassbox/internal/config"
)

// TestActionNames_MatchAuth keeps the config's list of grantable actions
// equal to the auth package's (config may not import auth).
func TestActionNames_MatchAuth(t *testing.T) {
	var want []string
	for _, a := range auth.AllActions {
		want = append(want, string(a))
	}
	got := slices.Clone(config.ActionNames)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("config.ActionNames = %v, auth.AllActions = %v", got, want)
	}
}

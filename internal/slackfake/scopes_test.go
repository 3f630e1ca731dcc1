package slackfake_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

func TestScopesHeader(t *testing.T) {
	s := slackfake.New(t)
	scopes := func() []string {
		t.Helper()
		auth, err := s.Client().AuthTestContext(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(auth.Header.Get("X-OAuth-Scopes"), ",")
	}
	if got := scopes(); !slices.Equal(got, slackfake.DefaultScopes) {
		t.Errorf("X-OAuth-Scopes %v, want the defaults %v", got, slackfake.DefaultScopes)
	}
	s.SetScopes("chat:write", "commands")
	if got := scopes(); !slices.Equal(got, []string{"chat:write", "commands"}) {
		t.Errorf("X-OAuth-Scopes %v after SetScopes(chat:write, commands)", got)
	}
}

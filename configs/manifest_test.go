package configs

import (
	"os"
	"slices"
	"testing"
)

func TestRequiredBotScopes(t *testing.T) {
	want := []string{"app_mentions:read", "channels:history", "chat:write", "commands", "files:write", "groups:history", "usergroups:read"}
	if got := RequiredBotScopes(); !slices.Equal(got, want) {
		t.Errorf("RequiredBotScopes() = %v, want %v", got, want)
	}
}

// TestManifestsAskForTheSameScopes keeps RequiredBotScopes right in HTTP
// mode, whose manifest is not embedded.
func TestManifestsAskForTheSameScopes(t *testing.T) {
	data, err := os.ReadFile("slack-app-manifest.http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	httpScopes, err := manifestBotScopes(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(httpScopes, RequiredBotScopes()) {
		t.Errorf("HTTP manifest bot scopes %v, Socket Mode manifest %v", httpScopes, RequiredBotScopes())
	}
}

func TestManifestBotScopesErrors(t *testing.T) {
	for name, manifest := range map[string]string{
		"not YAML":  "oauth_config: [",
		"no scopes": "oauth_config:\n  scopes:\n    user: [chat:write]\n",
	} {
		if _, err := manifestBotScopes([]byte(manifest)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

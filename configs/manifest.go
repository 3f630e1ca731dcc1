package configs

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// slackManifest is the Slack app manifest for Socket Mode. The HTTP mode
// manifest asks for the same bot scopes.
//
//go:embed slack-app-manifest.yaml
var slackManifest []byte

// RequiredBotScopes returns the bot token scopes the Slack app manifest
// (slack-app-manifest.yaml) asks for, sorted: what `config check --online`
// expects auth.test to report as granted.
func RequiredBotScopes() []string {
	scopes, err := manifestBotScopes(slackManifest)
	if err != nil {
		panic(err) // the manifest is embedded: a test catches a broken one
	}
	return scopes
}

// manifestBotScopes reads oauth_config.scopes.bot from a Slack app manifest.
func manifestBotScopes(manifest []byte) ([]string, error) {
	var m struct {
		OAuthConfig struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	if err := yaml.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("parsing the Slack app manifest: %w", err)
	}
	if len(m.OAuthConfig.Scopes.Bot) == 0 {
		return nil, errors.New("the Slack app manifest has no oauth_config.scopes.bot")
	}
	return slices.Sorted(slices.Values(m.OAuthConfig.Scopes.Bot)), nil
}

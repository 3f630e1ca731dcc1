package configs

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// RedactionMark replaces a secret in the output of Redacted and YAML.
const RedactionMark = "*** REDACTED ***"

// secretIDShown is how many leading characters of tencentcloud.secret_id
// Redacted keeps, enough to tell two API keys apart.
const secretIDShown = 4

// Redacted returns a deep copy of c in which every secret is replaced by
// RedactionMark: tencentcloud.secret_key, slack.bot_token, slack.app_token,
// slack.signing_secret, alarms.token, redis.password and the password inside
// redis.url.
// tencentcloud.secret_id keeps its first four characters followed by "…",
// unless it is too short to hide anything that way. Empty secrets stay empty,
// so the copy still shows what is unset.
func (c *Config) Redacted() *Config {
	r := c.clone()
	r.TencentCloud.SecretID = redactKeepingPrefix(c.TencentCloud.SecretID)
	r.TencentCloud.SecretKey = redact(c.TencentCloud.SecretKey)
	r.Slack.BotToken = redact(c.Slack.BotToken)
	r.Slack.AppToken = redact(c.Slack.AppToken)
	r.Slack.SigningSecret = redact(c.Slack.SigningSecret)
	r.Alarms.Token = redact(c.Alarms.Token)
	r.Redis.Password = redact(c.Redis.Password)
	r.Redis.URL = redactURLPassword(c.Redis.URL)
	return r
}

// YAML returns the redacted configuration (see Redacted) as a YAML document
// with the same keys a config file uses, for `config check` and logs.
func (c *Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	err := enc.Encode(c.Redacted())
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("encoding configuration as YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// clone returns a copy of c that shares no slice with it.
func (c *Config) clone() *Config {
	r := *c
	r.TencentCloud.Regions = slices.Clone(c.TencentCloud.Regions)
	r.Redis.Addrs = slices.Clone(c.Redis.Addrs)
	r.Approvals.Approvers = slices.Clone(c.Approvals.Approvers)
	r.Approvals.ApproverGroups = slices.Clone(c.Approvals.ApproverGroups)
	r.Access.AllowedChannels = slices.Clone(c.Access.AllowedChannels)
	r.Alarms.PolicyChannels = maps.Clone(c.Alarms.PolicyChannels)
	r.Alarms.TagChannels = maps.Clone(c.Alarms.TagChannels)
	r.unknownKeys = slices.Clone(c.unknownKeys)
	return &r
}

func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return RedactionMark
}

// redactKeepingPrefix keeps the first secretIDShown characters of a secret
// that has at least twice as many, and redacts shorter ones entirely.
func redactKeepingPrefix(secret string) string {
	runes := []rune(secret)
	if len(runes) < 2*secretIDShown {
		return redact(secret)
	}
	return string(runes[:secretIDShown]) + "…"
}

// redactURLPassword replaces the password of a URL's user information. A
// value that does not parse as a URL with an authority, or that holds an "@"
// the parser did not read as the end of user information, is redacted entirely,
// since where its password is cannot be told.
func redactURLPassword(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return RedactionMark
	}
	if _, ok := u.User.Password(); !ok {
		if u.User == nil && strings.Contains(raw, "@") {
			return RedactionMark
		}
		return raw
	}
	user := url.User(u.User.Username()).String()
	u.User = nil
	rest := strings.TrimPrefix(u.String(), u.Scheme+"://")
	return u.Scheme + "://" + user + ":" + RedactionMark + "@" + rest
}

package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"
	"go.yaml.in/yaml/v3"

	"github.com/cvmlogin/cvmlogin/bot"
)

// slackMethod is what one method of bot.SlackAPI needs from Slack: the Web
// API methods it calls, in order, and the bot scopes they require.
type slackMethod struct {
	webAPI []string
	scopes []string
	// call calls the method once with arguments Slack would accept.
	call func(ctx context.Context, api bot.SlackAPI) error
}

// slackMethods declares every method of bot.SlackAPI. A new Slack call must be
// added here, and its scopes to both Slack app manifests.
var slackMethods = map[string]slackMethod{
	"PostMessageContext": {
		webAPI: []string{"chat.postMessage"},
		scopes: []string{"chat:write"},
		call: func(ctx context.Context, api bot.SlackAPI) error {
			_, _, err := api.PostMessageContext(ctx, "C0CHANNEL", slack.MsgOptionText("report", false))
			return err
		},
	},
	"UpdateMessageContext": {
		webAPI: []string{"chat.update"},
		scopes: []string{"chat:write"},
		call: func(ctx context.Context, api bot.SlackAPI) error {
			_, _, _, err := api.UpdateMessageContext(ctx, "C0CHANNEL", "1700000000.000100", slack.MsgOptionText("report", false))
			return err
		},
	},
	"PostEphemeralContext": {
		webAPI: []string{"chat.postEphemeral"},
		scopes: []string{"chat:write"},
		call: func(ctx context.Context, api bot.SlackAPI) error {
			_, err := api.PostEphemeralContext(ctx, "C0CHANNEL", "U0USER", slack.MsgOptionText("only you", false))
			return err
		},
	},
	"UploadFileContext": {
		webAPI: []string{"files.getUploadURLExternal", "files.completeUploadExternal"},
		scopes: []string{"files:write"},
		call: func(ctx context.Context, api bot.SlackAPI) error {
			_, err := api.UploadFileContext(ctx, slack.UploadFileParameters{
				Filename: "report.json", Content: "{}", FileSize: 2, Channel: "C0CHANNEL", ThreadTimestamp: "1700000000.000100",
			})
			return err
		},
	},
	"GetUserGroupMembersContext": {
		webAPI: []string{"usergroups.users.list"},
		scopes: []string{"usergroups:read"},
		call: func(ctx context.Context, api bot.SlackAPI) error {
			_, err := api.GetUserGroupMembersContext(ctx, "S0APPROVERS")
			return err
		},
	},
	"GetConversationHistoryContext": {
		webAPI: []string{"conversations.history"},
		scopes: []string{"channels:history", "groups:history"},
		call: func(ctx context.Context, api bot.SlackAPI) error {
			_, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C0CHANNEL", Limit: 50, IncludeAllMetadata: true})
			return err
		},
	},
	"GetConversationRepliesContext": {
		webAPI: []string{"conversations.replies"},
		scopes: []string{"channels:history", "groups:history"},
		call: func(ctx context.Context, api bot.SlackAPI) error {
			_, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C0CHANNEL", Timestamp: "1700000000.000100", IncludeAllMetadata: true})
			return err
		},
	},
	"OpenViewContext": {
		webAPI: []string{"views.open"}, // no scope: the trigger_id is the permission
		call: func(ctx context.Context, api bot.SlackAPI) error {
			_, err := api.OpenViewContext(ctx, "1700000000001.4711.abc", slack.ModalViewRequest{Type: slack.VTModal,
				Title: slack.NewTextBlockObject(slack.PlainTextType, "Paste the error", false, false)})
			return err
		},
	},
	"AuthTestContext": {
		webAPI: []string{"auth.test"},
		call: func(ctx context.Context, api bot.SlackAPI) error {
			_, err := api.AuthTestContext(ctx)
			return err
		},
	},
}

// surfaceScopes are the bot scopes of the app's Slack surface rather than of
// a Web API call: the slash command and the app_mention event.
var surfaceScopes = []string{"commands", "app_mentions:read"}

// manifestFiles are the Slack app manifests, Socket Mode and HTTP mode.
var manifestFiles = []string{"../configs/slack-app-manifest.yaml", "../configs/slack-app-manifest.http.yaml"}

func TestManifestTableDeclaresEverySlackAPIMethod(t *testing.T) {
	api := reflect.TypeFor[bot.SlackAPI]()
	for i := range api.NumMethod() {
		if name := api.Method(i).Name; slackMethods[name].call == nil {
			t.Errorf("bot.SlackAPI.%s is not declared in slackMethods: add the Web API methods it calls and their scopes, and the scopes to %v", name, manifestFiles)
		}
	}
	for name := range slackMethods {
		if _, ok := api.MethodByName(name); !ok {
			t.Errorf("slackMethods declares %s, which bot.SlackAPI no longer has", name)
		}
	}
}

// webAPIRecorder is a Slack Web API on loopback that answers every method
// with success and records the methods called.
type webAPIRecorder struct {
	srv *httptest.Server

	mu      sync.Mutex
	methods []string
}

// uploadPath is where the recorder's files.getUploadURLExternal sends uploads.
const uploadPath = "/upload"

func newWebAPIRecorder(tb testing.TB) *webAPIRecorder {
	tb.Helper()
	r := &webAPIRecorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.srv.Close)
	return r
}

func (r *webAPIRecorder) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == uploadPath {
		return // file contents, not a Web API call
	}
	r.mu.Lock()
	r.methods = append(r.methods, strings.TrimPrefix(req.URL.Path, "/"))
	r.mu.Unlock()
	// The members of every method's successful answer, together.
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ok": true, "channel": "C0CHANNEL", "ts": "1700000000.000100", "message_ts": "1700000000.000200",
		"upload_url": r.srv.URL + uploadPath, "file_id": "F0REPORT",
		"files": []map[string]string{{"id": "F0REPORT", "title": "report.json"}},
		"users": []string{"U0APPROVER"}, "user_id": "U0CVMLOGIN",
	})
}

// take returns the methods called since the last take.
func (r *webAPIRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	methods := r.methods
	r.methods = nil
	return methods
}

func TestManifestTableMatchesWebAPICalls(t *testing.T) {
	rec := newWebAPIRecorder(t)
	api := slack.New("xoxb-test", slack.OptionAPIURL(rec.srv.URL+"/"))
	for name, m := range slackMethods {
		if err := m.call(t.Context(), api); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if got := rec.take(); !slices.Equal(got, m.webAPI) {
			t.Errorf("%s called %q, slackMethods declares %q", name, got, m.webAPI)
		}
	}
}

// mustReadManifest parses a Slack app manifest, failing on keys that
// slack-go's Manifest does not know.
func mustReadManifest(tb testing.TB, path string) slack.Manifest {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m slack.Manifest
	if err := dec.Decode(&m); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return m
}

// neededScopes returns the bot scopes the bot needs, each once.
func neededScopes() []string {
	needed := slices.Clone(surfaceScopes)
	for _, m := range slackMethods {
		needed = append(needed, m.scopes...)
	}
	slices.Sort(needed)
	return slices.Compact(needed)
}

func TestManifestScopesAreExactlyTheNeededOnes(t *testing.T) {
	needed := neededScopes()
	for _, path := range manifestFiles {
		scopes := mustReadManifest(t, path).OAuthConfig.Scopes
		for _, s := range needed {
			if !slices.Contains(scopes.Bot, s) {
				t.Errorf("%s lacks the bot scope %s", path, s)
			}
		}
		for _, s := range scopes.Bot {
			if !slices.Contains(needed, s) {
				t.Errorf("%s requests the bot scope %s, which nothing needs", path, s)
			}
		}
		if others := slices.Concat(scopes.User, scopes.BotOptional, scopes.UserOptional); len(others) > 0 {
			t.Errorf("%s requests user or optional scopes %q: the bot needs none", path, others)
		}
	}
}

func TestManifestSlashCommandIsTheBots(t *testing.T) {
	for _, path := range manifestFiles {
		commands := mustReadManifest(t, path).Features.SlashCommands
		if len(commands) != 1 || commands[0].Command != bot.SlashCommand {
			t.Errorf("%s declares %+v, want the single command %s", path, commands, bot.SlashCommand)
		}
	}
}

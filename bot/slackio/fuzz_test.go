package slackio

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// FuzzInteractionPayload sends arbitrary, correctly signed interaction
// payloads through the HTTP transport. Whatever the payload, it must not
// panic, it must be answered 200 (handled or ignored) or 400 (malformed), and
// the Handler must see nothing but block_actions payloads of at most
// maxPressActions actions, each at most once. Seeds are in testdata/fuzz.
func FuzzInteractionPayload(f *testing.F) {
	for _, seed := range []string{
		`{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"C1"},"message":{"ts":"1.2"},"actions":[{"action_id":"restart_instance","value":"v"}]}`,
		`{"type":"block_actions","actions":[{"action_id":"a"},{"action_id":"b"}]}`,
		`{"type":"block_actions","actions":[]}`,
		`{"type":"view_submission","view":{"id":"V1"}}`,
		`{"type":"block_actions","actions":null,"user":{"id":7}}`,
		`{"type":"shortcut"}`, `[]`, `null`, `{`, ``, "\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		h := &recordingHandler{}
		s := NewHTTPServer(h, HTTPOptions{Verifier: Verifier{Secret: testSigningSecret}, SlackRoutes: true})
		body := url.Values{"payload": {payload}}.Encode()
		req := httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(body))
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, Sign(testSigningSecret, ts, []byte(body)))
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if err := s.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("payload %q answered %d", payload, rec.Code)
		}
		actions := h.snapshot().actions
		if len(actions) > 1 {
			t.Fatalf("payload %q handled %d times", payload, len(actions))
		}
		for _, cb := range actions {
			if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) > maxPressActions {
				t.Fatalf("payload %q reached the Handler as %s with %d actions", payload, cb.Type, len(cb.ActionCallback.BlockActions))
			}
		}
	})
}

package slackfake_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

func TestFailStatus(t *testing.T) {
	s := slackfake.New(t)
	s.FailStatus("chat.postEphemeral", http.StatusServiceUnavailable, 1)
	api := s.Client()
	_, err := api.PostEphemeralContext(t.Context(), "C1", "U1", slack.MsgOptionText("hi", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Fatalf("first call: %v, want HTTP 503", err)
	}
	if _, err := api.PostEphemeralContext(t.Context(), "C1", "U1", slack.MsgOptionText("hi", false)); err != nil {
		t.Fatalf("second call: %v, want success", err)
	}
}

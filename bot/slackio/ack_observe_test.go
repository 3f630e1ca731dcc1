package slackio

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// ackRecorder records the kinds a transport passes to ObserveAck.
type ackRecorder struct {
	mu    sync.Mutex
	kinds []string
}

func (r *ackRecorder) observe(kind string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d > 0 {
		r.kinds = append(r.kinds, kind)
	}
}

// waitKinds waits until kinds were observed, in any order.
func (r *ackRecorder) waitKinds(t *testing.T, kinds ...string) {
	t.Helper()
	slices.Sort(kinds)
	slackfake.WaitFor(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return slices.Equal(slices.Sorted(slices.Values(r.kinds)), kinds)
	}, 5*time.Second)
}

func TestHTTPObservesAcks(t *testing.T) {
	var acks ackRecorder
	_, base := newSlackHTTP(t, &recordingHandler{}, HTTPOptions{ObserveAck: acks.observe})
	for path, body := range map[string]string{
		"/slack/commands":     commandForm("ins-abc12345"),
		"/slack/interactions": interactionForm(blockActionsPayload),
		"/slack/events":       appMentionCallback("Ev1"),
	} {
		do(t, slackRequest(t, base, path, body, testSigningSecret, time.Now()))
	}
	acks.waitKinds(t, AckCommand, AckInteraction, AckEvent)
}

func TestSocketObservesAcks(t *testing.T) {
	var acks ackRecorder
	fake := startSocket(t, &recordingHandler{}, SocketOptions{ObserveAck: acks.observe})
	fake.SendEnvelope(t, "slash_commands", testSlashCommand, 0)
	fake.SendEnvelope(t, "interactive", json.RawMessage(blockActionsPayload), 0)
	fake.SendEnvelope(t, "events_api", json.RawMessage(appMentionCallback("Ev2")), 0)
	acks.waitKinds(t, AckCommand, AckInteraction, AckEvent)
}

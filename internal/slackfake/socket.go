package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Socket Mode timing: how often the server pings a connection (slack-go's
// client reconnects after 30 s without a ping), how long a write may take, and
// how long SendEnvelope waits for a client to be connected.
const (
	pingEvery      = 5 * time.Second
	writeTimeout   = 5 * time.Second
	connectTimeout = 10 * time.Second
)

// socketState is the Socket Mode side of a Server, guarded by Server.mu
// except for wg.
type socketState struct {
	open         map[*socket]bool
	current      *socket // the newest open connection, which envelopes go to
	opened       int
	lastEnvelope int
	envelopes    map[string]sentEnvelope // by envelope type + payload as given
	acks         []Ack
	closed       bool
	wg           sync.WaitGroup // connection handlers and their pingers
}

// A socket is one Socket Mode connection, seen from the server.
type socket struct {
	conn    *websocket.Conn
	writeMu sync.Mutex // gorilla/websocket allows one writer at a time
	done    chan struct{}
}

func (c *socket) send(v any) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.conn.WriteJSON(v)
}

// Ack is an acknowledgement a Socket Mode client sent back.
type Ack struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload"` // nil when the ack carried none
}

// Acks returns the acknowledgements received so far, oldest first.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Ack, len(s.sockets.acks))
	for i, a := range s.sockets.acks {
		out[i] = Ack{EnvelopeID: a.EnvelopeID, Payload: append(json.RawMessage(nil), a.Payload...)}
	}
	return out
}

// Connections returns how many Socket Mode connections clients have opened so
// far, including those since closed.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sockets.opened
}

// DropConnection closes the newest Socket Mode connection abruptly, without a
// close frame, as a network failure would. Later envelopes wait for the client
// to reconnect.
func (s *Server) DropConnection() {
	s.mu.Lock()
	sock := s.sockets.current
	s.sockets.current = nil
	s.mu.Unlock()
	if sock != nil {
		sock.conn.Close()
	}
}

// envelope is a message Slack sends over a Socket Mode connection.
type envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

// SendEnvelope sends payload, marshalled with encoding/json, in an envelope
// of envelopeType ("slash_commands", "interactive", "events_api", or any
// other) to the newest Socket Mode connection, waiting for a client to
// connect if none is. It returns the envelope ID. A slash command or
// interaction without a trigger_id gets a new one (see Trigger), as Slack's
// do. A retry (retryAttempt > 0) of an envelope sent before with the same
// type and payload keeps its envelope ID and trigger_id, as Slack's
// redeliveries do. It fails tb if no client connects or the write fails;
// call it from the test's goroutine.
func (s *Server) SendEnvelope(tb testing.TB, envelopeType string, payload any, retryAttempt int) string {
	tb.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		tb.Fatalf("slackfake: marshalling the %s payload: %v", envelopeType, err)
	}
	var sock *socket
	waitFor(tb, "a Socket Mode client to connect", func() bool {
		sock = s.currentSocket()
		return sock != nil
	}, connectTimeout)
	sent := s.envelope(envelopeType, body, retryAttempt)
	env := envelope{
		EnvelopeID:             sent.id,
		Type:                   envelopeType,
		Payload:                sent.payload,
		AcceptsResponsePayload: envelopeType != "events_api",
		RetryAttempt:           retryAttempt,
	}
	if retryAttempt > 0 {
		env.RetryReason = "timeout"
	}
	if err := sock.send(env); err != nil {
		tb.Fatalf("slackfake: sending a %s envelope: %v", envelopeType, err)
	}
	return env.EnvelopeID
}

// sentEnvelope is what an envelope carried: its ID and payload.
type sentEnvelope struct {
	id      string
	payload json.RawMessage
}

// envelope returns the envelope to send body in: the one sent before for a
// retry, else a new one, with a trigger_id added to a slash command or
// interaction that has none.
func (s *Server) envelope(envelopeType string, body []byte, retryAttempt int) sentEnvelope {
	key := envelopeType + "\x00" + string(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sent, ok := s.sockets.envelopes[key]; ok && retryAttempt > 0 {
		return sent
	}
	s.sockets.lastEnvelope++
	sent := sentEnvelope{id: fmt.Sprintf("5f0e1d2c-0000-4000-8000-%012d", s.sockets.lastEnvelope), payload: body}
	if envelopeType == "slash_commands" || envelopeType == "interactive" {
		sent.payload = s.withTrigger(body)
	}
	s.sockets.envelopes[key] = sent
	return sent
}

// withTrigger returns a JSON object's body with a new trigger_id unless it
// has one. The caller holds s.mu.
func (s *Server) withTrigger(body []byte) json.RawMessage {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil || members["trigger_id"] != nil {
		return body
	}
	members["trigger_id"], _ = json.Marshal(s.newTrigger())
	out, err := json.Marshal(members)
	if err != nil {
		return body
	}
	return out
}

func (s *Server) currentSocket() *socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sockets.current
}

// openConnection answers apps.connections.open with the URL of /ws.
func (s *Server) openConnection(url.Values) (map[string]any, string) {
	return map[string]any{"url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/ws"}, ""
}

var upgrader = websocket.Upgrader{
	// slack-go dials with Origin: https://api.slack.com.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveSocket runs one Socket Mode connection: hello, then pings, and every
// message the client sends recorded as an acknowledgement.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	sock := &socket{conn: conn, done: make(chan struct{})}
	connections, ok := s.addSocket(sock)
	if !ok {
		conn.Close()
		return
	}
	defer s.removeSocket(sock)
	hello := map[string]any{
		"type": "hello", "num_connections": connections,
		"connection_info": map[string]any{"app_id": AppID},
		"debug_info":      map[string]any{"host": "slackfake", "build_number": 1, "approximate_connection_time": 18060},
	}
	if sock.send(hello) != nil {
		return
	}
	s.sockets.wg.Go(func() { pingUntilDone(sock) })
	s.receiveAcks(sock)
}

// addSocket registers sock as the current connection and returns how many
// are open, or false once the server is closing.
func (s *Server) addSocket(sock *socket) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sockets.closed {
		return 0, false
	}
	s.sockets.wg.Add(1)
	s.sockets.open[sock] = true
	s.sockets.current = sock
	s.sockets.opened++
	return len(s.sockets.open), true
}

func (s *Server) removeSocket(sock *socket) {
	s.mu.Lock()
	delete(s.sockets.open, sock)
	if s.sockets.current == sock {
		s.sockets.current = nil
	}
	s.mu.Unlock()
	sock.conn.Close()
	close(sock.done)
	s.sockets.wg.Done()
}

// closeSockets closes every connection and waits for their goroutines.
func (s *Server) closeSockets() {
	s.mu.Lock()
	s.sockets.closed = true
	for sock := range s.sockets.open {
		sock.conn.Close()
	}
	s.mu.Unlock()
	s.sockets.wg.Wait()
}

func pingUntilDone(sock *socket) {
	tick := time.NewTicker(pingEvery)
	defer tick.Stop()
	for {
		select {
		case <-sock.done:
			return
		case <-tick.C:
			if sock.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)) != nil {
				return
			}
		}
	}
}

// receiveAcks records the acknowledgements read from sock until it fails.
func (s *Server) receiveAcks(sock *socket) {
	for {
		_, data, err := sock.conn.ReadMessage()
		if err != nil {
			return
		}
		var ack Ack
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		s.sockets.acks = append(s.sockets.acks, ack)
		s.mu.Unlock()
	}
}

package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/slack-go/slack"
)

// maxBlocks is Slack's limit of blocks in a message; more answers invalid_blocks.
const maxBlocks = 50

// methods are the Web API methods the server answers. Each returns the
// members of its successful answer, or a Slack error code.
var methods = map[string]func(*Server, url.Values) (map[string]any, string){
	"auth.test":                    (*Server).authTest,
	"apps.connections.open":        (*Server).openConnection,
	"chat.postMessage":             (*Server).postMessage,
	"chat.update":                  (*Server).updateMessage,
	"chat.postEphemeral":           (*Server).postEphemeral,
	"files.getUploadURLExternal":   (*Server).getUploadURL,
	"files.completeUploadExternal": (*Server).completeUpload,
	"usergroups.users.list":        (*Server).listGroupMembers,
	"users.info":                   (*Server).userInfo,
	"conversations.history":        (*Server).history,
	"conversations.replies":        (*Server).replies,
	"views.open":                   (*Server).openView,
}

// DefaultScopes are the bot scopes BotToken has until SetScopes: those
// cvmlogin's Slack app manifest asks for.
var DefaultScopes = []string{"commands", "app_mentions:read", "chat:write", "files:write", "usergroups:read", "channels:history", "groups:history"}

// headerScopes is the response header in which Slack lists the scopes of
// the token a Web API call was made with.
const headerScopes = "X-OAuth-Scopes"

// SetScopes sets the scopes BotToken was granted, which every Web API
// answer to it lists, comma-separated, in its X-OAuth-Scopes header, as
// Slack's do.
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = append([]string{}, scopes...)
}

// setScopesHeader sets X-OAuth-Scopes on the answer to an authenticated
// call of method, unless method is called with the app-level token.
func (s *Server) setScopesHeader(method string, h http.Header) {
	if method == "apps.connections.open" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	scopes := s.scopes
	if scopes == nil {
		scopes = DefaultScopes
	}
	h.Set(headerScopes, strings.Join(scopes, ","))
}

func (s *Server) authTest(url.Values) (map[string]any, string) {
	return map[string]any{
		"url": "https://slackfake.slack.com/", "team": "slackfake", "user": "cvmlogin",
		"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID,
	}, ""
}

// Message is the latest state of a message posted with chat.postMessage.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // the parent's ts for a reply, "" at top level
	Text     string
	Blocks   []json.RawMessage
	Updates  int // how many chat.update calls changed it
	// Metadata is the message's metadata argument ({"event_type",
	// "event_payload"}), nil without one.
	Metadata json.RawMessage
}

// Messages returns the messages posted in channel, in posting order, each as
// last updated.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages[channel]))
	for _, m := range s.messages[channel] {
		c := *m
		c.Blocks = slices.Clone(m.Blocks)
		out = append(out, c)
	}
	return out
}

// nextTS returns a new message timestamp, later than every one before it, in
// Slack's "seconds.microseconds" form. The caller holds s.mu.
func (s *Server) nextTS() string {
	s.lastTS++
	micros := s.lastTS * 100
	return fmt.Sprintf("%d.%06d", 1700000000+micros/1_000_000, micros%1_000_000)
}

func (m *Message) wire() map[string]any {
	w := map[string]any{
		"type": "message", "user": BotUserID, "bot_id": BotID,
		"ts": m.TS, "thread_ts": m.ThreadTS, "text": m.Text, "blocks": m.Blocks,
	}
	if m.Metadata != nil {
		w["metadata"] = m.Metadata
	}
	return w
}

// history answers conversations.history: the channel's top-level messages,
// newest first, at most limit (100).
func (s *Server) history(v url.Values) (map[string]any, string) {
	limit, err := strconv.Atoi(v.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 100
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all, ok := s.messages[v.Get("channel")]
	if !ok {
		return nil, "channel_not_found"
	}
	var out []map[string]any
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- {
		if all[i].ThreadTS == "" {
			out = append(out, all[i].wire())
		}
	}
	return map[string]any{"messages": out, "has_more": false}, ""
}

// replies answers conversations.replies: a thread's parent, then its
// replies, oldest first.
func (s *Server) replies(v url.Values) (map[string]any, string) {
	ts := v.Get("ts")
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, m := range s.messages[v.Get("channel")] {
		if m.TS == ts || m.ThreadTS == ts {
			out = append(out, m.wire())
		}
	}
	if len(out) == 0 {
		return nil, "thread_not_found"
	}
	return map[string]any{"messages": out, "has_more": false}, ""
}

// messageContent returns the blocks of a message's arguments, or the Slack
// error for arguments that make no valid message.
func messageContent(v url.Values) ([]json.RawMessage, string) {
	blocks := parseBlocks(v.Get("blocks"))
	switch {
	case v.Get("blocks") != "" && blocks == nil, len(blocks) > maxBlocks:
		return nil, "invalid_blocks"
	case v.Get("text") == "" && len(blocks) == 0 && v.Get("attachments") == "":
		return nil, "no_text"
	}
	return blocks, ""
}

func (s *Server) postMessage(v url.Values) (map[string]any, string) {
	channel := v.Get("channel")
	if channel == "" {
		return nil, "channel_not_found"
	}
	blocks, problem := messageContent(v)
	if problem != "" {
		return nil, problem
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &Message{Channel: channel, TS: s.nextTS(), ThreadTS: v.Get("thread_ts"), Text: v.Get("text"), Blocks: blocks}
	if meta := v.Get("metadata"); meta != "" && json.Valid([]byte(meta)) {
		m.Metadata = json.RawMessage(meta)
	}
	s.messages[channel] = append(s.messages[channel], m)
	return map[string]any{"channel": channel, "ts": m.TS, "message": m.wire()}, ""
}

// updateMessage replaces the text and blocks of a message, as chat.update
// does: a call without blocks removes them.
func (s *Server) updateMessage(v url.Values) (map[string]any, string) {
	blocks, problem := messageContent(v)
	if problem != "" {
		return nil, problem
	}
	channel, ts := v.Get("channel"), v.Get("ts")
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.messages[channel], func(m *Message) bool { return m.TS == ts })
	if i < 0 {
		return nil, "message_not_found"
	}
	m := s.messages[channel][i]
	m.Text, m.Blocks = v.Get("text"), blocks
	m.Updates++
	return map[string]any{"channel": channel, "ts": ts, "text": m.Text, "message": m.wire()}, ""
}

func (s *Server) postEphemeral(v url.Values) (map[string]any, string) {
	switch {
	case v.Get("channel") == "":
		return nil, "channel_not_found"
	case v.Get("user") == "":
		return nil, "user_not_found"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]any{"message_ts": s.nextTS()}, ""
}

// File is a file shared with files.completeUploadExternal.
type File struct {
	ID             string
	Title          string
	Filename       string
	Channel        string
	ThreadTS       string
	InitialComment string
	Content        []byte
}

// Files returns the files shared so far, oldest first.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.files)
	for i := range out {
		out[i].Content = slices.Clone(out[i].Content)
	}
	return out
}

// An upload is a file between files.getUploadURLExternal and
// files.completeUploadExternal.
type upload struct {
	filename string
	content  []byte
	received bool
}

func (s *Server) getUploadURL(v url.Values) (map[string]any, string) {
	length, err := strconv.Atoi(v.Get("length"))
	if v.Get("filename") == "" || err != nil || length <= 0 {
		return nil, "invalid_arguments"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastFile++
	id := fmt.Sprintf("F%07d", s.lastFile)
	s.uploads[id] = &upload{filename: v.Get("filename")}
	return map[string]any{"file_id": id, "upload_url": s.srv.URL + "/upload/" + id}, ""
}

// serveUpload stores the contents POSTed to an upload_url, sent raw or as the
// "file" part of a multipart form. Like Slack's, the URL needs no token.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("file")
	s.record(MethodUpload, url.Values{"file_id": {id}})
	if f := s.takeFault(MethodUpload); f != nil {
		f.writeHTTP(w)
		return
	}
	content, err := uploadedContent(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	u := s.uploads[id]
	if u != nil {
		u.content, u.received = content, true
	}
	s.mu.Unlock()
	if u == nil {
		http.NotFound(w, r)
		return
	}
	fmt.Fprintf(w, "OK - %d", len(content))
}

func uploadedContent(r *http.Request) ([]byte, error) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return io.ReadAll(r.Body)
	}
	file, _, err := r.FormFile("file")
	if err != nil {
		return nil, fmt.Errorf("reading the file part: %w", err)
	}
	defer file.Close()
	return io.ReadAll(file)
}

// completeUpload shares uploaded files. Each upload completes once: a second
// call answers file_not_found.
func (s *Server) completeUpload(v url.Values) (map[string]any, string) {
	var summaries []slack.FileSummary
	if json.Unmarshal([]byte(v.Get("files")), &summaries) != nil || len(summaries) == 0 {
		return nil, "invalid_arguments"
	}
	channel := v.Get("channel_id")
	if channel == "" {
		channel, _, _ = strings.Cut(v.Get("channels"), ",")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range summaries {
		if u := s.uploads[f.ID]; u == nil || !u.received {
			return nil, "file_not_found"
		}
	}
	shared := make([]map[string]any, 0, len(summaries))
	for _, f := range summaries {
		u := s.uploads[f.ID]
		delete(s.uploads, f.ID)
		title := f.Title
		if title == "" {
			title = u.filename
		}
		s.files = append(s.files, File{
			ID: f.ID, Title: title, Filename: u.filename, Content: u.content,
			Channel: channel, ThreadTS: v.Get("thread_ts"), InitialComment: v.Get("initial_comment"),
		})
		shared = append(shared, map[string]any{"id": f.ID, "title": title})
	}
	return map[string]any{"files": shared}, ""
}

// A group is a user group as usergroups.users.list sees it.
type group struct {
	members    []string
	slackError string // answered instead of the members when set
}

// SetGroupMembers makes usergroups.users.list answer members for the user
// group groupID. A group that was never set answers no_such_subteam.
func (s *Server) SetGroupMembers(groupID string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[groupID] = group{members: append([]string{}, members...)}
}

// FailGroup makes usergroups.users.list answer slackError for groupID, for
// instance "missing_scope" or "paid_teams_only", until SetGroupMembers is
// called for it.
func (s *Server) FailGroup(groupID, slackError string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[groupID] = group{slackError: slackError}
}

func (s *Server) listGroupMembers(v url.Values) (map[string]any, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[v.Get("usergroup")]
	switch {
	case !ok:
		return nil, "no_such_subteam"
	case g.slackError != "":
		return nil, g.slackError
	}
	return map[string]any{"users": slices.Clone(g.members)}, ""
}

// userInfo answers for any user ID with a user named after it.
func (s *Server) userInfo(v url.Values) (map[string]any, string) {
	id := v.Get("user")
	if id == "" {
		return nil, "user_not_found"
	}
	name := strings.ToLower(id)
	return map[string]any{"user": map[string]any{
		"id": id, "team_id": TeamID, "name": name, "real_name": "User " + id,
		"tz": "Asia/Shanghai", "is_bot": id == BotUserID,
		"profile": map[string]any{"real_name": "User " + id, "display_name": name},
	}}, ""
}

package bot

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/redistest"
	"github.com/cvmlogin/cvmlogin/internal/slackfake"
)

// modalConversation is the conversation whose report the symptom form of
// the tests belongs to.
func modalConversation() conversations.Conversation {
	return conversations.Conversation{ID: "conv0modal0test0001", Channel: "C0CHANNEL1", ThreadTS: "1700000000.000100",
		MessageTS: "1700000000.000100", Requester: "U024BE7LH", Target: "ins-abc12345", Region: "ap-guangzhou"}
}

func TestRenderModal(t *testing.T) {
	withSymptom := modalConversation()
	withSymptom.Symptom = "<@U1> `ubuntu@203.0.113.7: Permission denied (publickey)."
	tests := []struct {
		name string
		view slack.ModalViewRequest
	}{
		{"symptom", symptomModal(modalConversation(), "refmodal0symptom0001")},
		{"symptom pasted before", symptomModal(withSymptom, "refmodal0symptom0002")},
		{"diagnose", diagnoseModal("C0CHANNEL1", "refmodal0diagnose001")},
	}
	fake := slackfake.New(t) // the witness: it checks the view as Slack does
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(tc.view, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			assertGolden(t, append(got, '\n'), ".golden.json")
			if _, err := fake.Client().OpenViewContext(t.Context(), fake.Trigger(), tc.view); err != nil {
				t.Errorf("Slack would not open it: %#v", err)
			}
		})
	}
}

// modalBot is a Bot on real Redis and a fake Slack, with nothing consuming
// its queue, for checking submissions.
func modalBot(t *testing.T) (*Bot, *conversations.Store) {
	t.Helper()
	rdb := redistest.New(t)
	store := conversations.New(rdb, conversations.Options{Prefix: redistest.KeyPrefix(t, rdb)})
	b := New(slackfake.New(t).Client(), store, nil, nil, Options{DefaultRegion: "ap-guangzhou", KnownRegion: knownRegions})
	t.Cleanup(b.out.wait)
	return b, store
}

// submittedForm is the view_submission of user filling in a form.
func submittedForm(callback, metadata, key string, values map[string]string) slack.InteractionCallback {
	actions := map[string]string{blockSymptomInput: actionSymptomInput, blockTargetInput: actionTargetInput}
	state := &slack.ViewState{Values: map[string]map[string]slack.BlockAction{}}
	for block, value := range values {
		state.Values[block] = map[string]slack.BlockAction{actions[block]: {Type: "plain_text_input", Value: value}}
	}
	return slack.InteractionCallback{Type: slack.InteractionTypeViewSubmission, User: slack.User{ID: "U0PASTER01"},
		View: slack.View{ID: "V0FORM", CallbackID: callback, PrivateMetadata: metadata, ExternalID: key, State: state}}
}

// formFixture is what the submission tests bind forms to: a conversation in
// C0CHANNEL1 and another in C0OTHER001, and the Refs their forms opened with.
type formFixture struct {
	conv, other     conversations.Conversation
	symptomKey      string // bound to conv
	otherKey        string // bound to other
	crossedKey      string // names conv, but the channel of other
	missingKey      string // names a conversation that is gone
	diagnoseKey     string // a /cvm-login form of C0CHANNEL1
	missingConvID   string
	diagnoseChannel string
}

func newFormFixture(t *testing.T, store *conversations.Store) formFixture {
	t.Helper()
	ctx := t.Context()
	f := formFixture{conv: modalConversation(), other: modalConversation(), missingConvID: conversations.NewID(), diagnoseChannel: "C0CHANNEL1"}
	f.other.ID, f.other.Channel = "conv0modal0test0002", "C0OTHER001"
	for _, c := range []conversations.Conversation{f.conv, f.other} {
		if err := store.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	bind := func(r conversations.Ref) string {
		key, err := store.CreateRef(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	f.symptomKey = bind(conversations.Ref{Action: CallbackSymptom, ConversationID: f.conv.ID, Channel: f.conv.Channel})
	f.otherKey = bind(conversations.Ref{Action: CallbackSymptom, ConversationID: f.other.ID, Channel: f.other.Channel})
	f.crossedKey = bind(conversations.Ref{Action: CallbackSymptom, ConversationID: f.conv.ID, Channel: f.other.Channel})
	f.missingKey = bind(conversations.Ref{Action: CallbackSymptom, ConversationID: f.missingConvID, Channel: f.conv.Channel})
	f.diagnoseKey = bind(conversations.Ref{Action: CallbackDiagnose, Channel: f.diagnoseChannel})
	return f
}

func TestSubmitSymptomForm(t *testing.T) {
	b, store := modalBot(t)
	f := newFormFixture(t, store)
	paste := map[string]string{blockSymptomInput: "debug1: Offering public key: /home/me/.ssh/id_ed25519\nubuntu@203.0.113.7: Permission denied (publickey).\n"}
	tests := []struct {
		name       string
		metadata   string
		key        string
		values     map[string]string
		wantErrors string // under the symptom input
		wantNotice string
	}{
		{"empty", f.conv.ID, f.symptomKey, map[string]string{blockSymptomInput: " \n "}, msgNeedSymptom, ""},
		{"no input at all", f.conv.ID, f.symptomKey, nil, msgNeedSymptom, ""},
		{"too long", f.conv.ID, f.symptomKey, map[string]string{blockSymptomInput: strings.Repeat("é", maxSymptomInput+1)}, "That is 3001 characters", ""},
		{"malformed metadata", "C0CHANNEL1/../x", f.symptomKey, paste, "", msgStaleModal},
		{"no metadata", "", f.symptomKey, paste, "", msgStaleModal},
		{"unknown binding", f.conv.ID, conversations.NewID(), paste, "", msgStaleModal},
		{"binding of a /cvm-login form", f.conv.ID, f.diagnoseKey, paste, "", msgForeignModal},
		{"unknown conversation", f.missingConvID, f.missingKey, paste, "", msgStaleModal},
		{"metadata names another channel's conversation", f.other.ID, f.symptomKey, paste, "", msgForeignModal},
		{"binding of another channel", f.conv.ID, f.crossedKey, paste, "", msgForeignModal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := b.Submit(t.Context(), submittedForm(CallbackSymptom, tt.metadata, tt.key, tt.values))
			if !strings.Contains(got.Errors[blockSymptomInput], tt.wantErrors) || (tt.wantErrors == "") != (len(got.Errors) == 0) || got.Notice != tt.wantNotice {
				t.Errorf("Submit = %+v, want errors %q, notice %q", got, tt.wantErrors, tt.wantNotice)
			}
		})
	}
	assertNothingQueued(t, store, f)

	if got := b.Submit(t.Context(), submittedForm(CallbackSymptom, f.conv.ID, f.symptomKey, paste)); got.Notice != "" || got.Errors != nil {
		t.Fatalf("a valid form answered %+v, want it closed", got)
	}
	c, err := store.Conversation(t.Context(), f.conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Symptom != "ubuntu@203.0.113.7: Permission denied (publickey)." {
		t.Errorf("stored symptom %q, want the error line of the paste", c.Symptom)
	}
	if n, _ := store.QueueDepth(t.Context()); n != 1 {
		t.Errorf("%d jobs queued, want the re-diagnosis", n)
	}
	again := b.Submit(t.Context(), submittedForm(CallbackSymptom, f.conv.ID, f.symptomKey, paste))
	if !strings.Contains(again.Notice, "already being diagnosed") || !strings.Contains(again.Notice, "saved") {
		t.Errorf("a second paste while the first runs answered %+v, want where the running one is", again)
	}
}

// assertNothingQueued checks that no refused form changed the state.
func assertNothingQueued(t *testing.T, store *conversations.Store, f formFixture) {
	t.Helper()
	if n, _ := store.QueueDepth(t.Context()); n != 0 {
		t.Errorf("%d jobs queued by refused forms", n)
	}
	for _, id := range []string{f.conv.ID, f.other.ID} {
		if c, _ := store.Conversation(t.Context(), id); c.Symptom != "" {
			t.Errorf("conversation %s got symptom %q from a refused form", id, c.Symptom)
		}
	}
}

func TestSubmitDiagnoseForm(t *testing.T) {
	b, store := modalBot(t)
	f := newFormFixture(t, store)
	tests := []struct {
		name        string
		metadata    string
		key         string
		values      map[string]string
		wantErrors  map[string]string // block → part of its message
		wantNotice  string
		wantSymptom string // of the queued job, when one is
	}{
		{"no instance", f.diagnoseChannel, f.diagnoseKey, map[string]string{blockTargetInput: "  "}, map[string]string{blockTargetInput: msgNeedTarget}, "", ""},
		{"instance too long", f.diagnoseChannel, f.diagnoseKey, map[string]string{blockTargetInput: strings.Repeat("w", maxTargetInput+1)},
			map[string]string{blockTargetInput: "at most 200"}, "", ""},
		{"malformed instance", f.diagnoseChannel, f.diagnoseKey, map[string]string{blockTargetInput: "ins-ABC"}, map[string]string{blockTargetInput: "not a valid instance ID"}, "", ""},
		{"a greeting", f.diagnoseChannel, f.diagnoseKey, map[string]string{blockTargetInput: "hello"}, map[string]string{blockTargetInput: msgNeedTarget}, "", ""},
		{"error too long", f.diagnoseChannel, f.diagnoseKey, map[string]string{blockTargetInput: "ins-abc12345", blockSymptomInput: strings.Repeat("x", maxSymptomInput+1)},
			map[string]string{blockSymptomInput: "at most 3000"}, "", ""},
		{"malformed channel", "c0channel1", f.diagnoseKey, map[string]string{blockTargetInput: "ins-abc12345"}, nil, msgStaleModal, ""},
		{"channel other than the form's", "C0OTHER001", f.diagnoseKey, map[string]string{blockTargetInput: "ins-abc12345"}, nil, msgForeignModal, ""},
		{"binding of a symptom form", f.diagnoseChannel, f.symptomKey, map[string]string{blockTargetInput: "ins-abc12345"}, nil, msgForeignModal, ""},
		{"valid, with the error", f.diagnoseChannel, f.diagnoseKey, map[string]string{blockTargetInput: "ins-abc12345 ap-shanghai",
			blockSymptomInput: "ssh: connect to host 203.0.113.7 port 22: Connection timed out"}, nil, "", "ssh: connect to host 203.0.113.7 port 22: Connection timed out"},
		{"valid, error typed after the instance", f.diagnoseChannel, f.diagnoseKey, map[string]string{blockTargetInput: "ins-xyz98765 Connection refused"},
			nil, "", "Connection refused"},
	}
	queued := int64(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := b.Submit(t.Context(), submittedForm(CallbackDiagnose, tt.metadata, tt.key, tt.values))
			if len(got.Errors) != len(tt.wantErrors) || got.Notice != tt.wantNotice {
				t.Fatalf("Submit = %+v, want errors %v, notice %q", got, tt.wantErrors, tt.wantNotice)
			}
			for block, want := range tt.wantErrors {
				if !strings.Contains(got.Errors[block], want) {
					t.Errorf("error under %s = %q, want %q", block, got.Errors[block], want)
				}
			}
			if tt.wantSymptom != "" {
				queued++
			}
			if n, _ := store.QueueDepth(t.Context()); n != queued {
				t.Errorf("%d jobs queued, want %d", n, queued)
			}
		})
	}
}

func TestSubmitUnknownForm(t *testing.T) {
	b, _ := modalBot(t)
	if got := b.Submit(context.Background(), submittedForm("someone_elses_modal", "", "", nil)); got.Notice != msgStaleModal {
		t.Errorf("Submit = %+v, want the stale-form notice", got)
	}
}

func TestPastedSymptom(t *testing.T) {
	verbose := "OpenSSH_9.6p1, OpenSSL 3.0.13\n" + strings.Repeat("debug1: Reading configuration data /etc/ssh/ssh_config\n", 20) +
		"debug1: Authentications that can continue: publickey\nubuntu@203.0.113.7: Permission denied (publickey).\r\n"
	long := strings.Repeat("é", 400)
	tests := []struct {
		name, text, want string
	}{
		{"one line", "Connection refused", "Connection refused"},
		{"verbose output, the error last", verbose, "ubuntu@203.0.113.7: Permission denied (publickey)."},
		{"the last error the classifier knows", "Connection timed out\nretrying\nHost key verification failed.\nbye", "Host key verification failed."},
		{"unknown text keeps the lines that fit, the last ones", strings.Repeat("it hangs forever\n", 40), strings.TrimSuffix(strings.Repeat("it hangs forever\n", 29), "\n")},
		{"one long unknown line keeps its end", long, strings.Repeat("é", diag.MaxSymptomText/2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pastedSymptom(tt.text)
			if got != tt.want {
				t.Errorf("pastedSymptom = %q, want %q", got, tt.want)
			}
			if len(got) > diag.MaxSymptomText && diag.ClassifySymptom(got, "").Family == diag.SymptomUnknown {
				t.Errorf("kept %d bytes, more than diag reads", len(got))
			}
		})
	}
}

package bot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/cvmlogin/cvmlogin/bot/slackio"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/textclip"
)

// ActionPasteSymptom is the report button that opens a form where the user
// pastes the error their client showed (design.md B7).
const ActionPasteSymptom = "paste_symptom"

// labelPasteSymptom is the paste button's label.
const labelPasteSymptom = "Paste the error I see"

// The callback_ids of the bot's modals (design.md B7): the form of the
// paste_symptom button, which re-diagnoses its report with the error, and
// the form of /cvm-login typed alone, which starts a diagnosis.
const (
	CallbackSymptom  = "symptom_modal"
	CallbackDiagnose = "diagnose_modal"
)

// The block and action IDs of the modals' inputs, which a submission's
// state and a response_action errors name.
const (
	blockModalIntro    = "modal.intro"
	blockSymptomInput  = "symptom"
	actionSymptomInput = "symptom_text"
	blockTargetInput   = "target"
	actionTargetInput  = "target_text"
)

// Bounds of the modals' inputs, in characters: the error text leaves room
// for a client's whole output (Slack allows a plain_text_input 3000); the
// instance field, for a name, a region and --port.
const (
	maxSymptomInput = 3000
	maxTargetInput  = 200
)

// Slack's limits of a modal (reference/slack-platform.md §5.1): its title
// and its submit and close labels take 24 characters.
const (
	maxModalTitle  = 24
	maxModalButton = 24
)

// pasteWindow drops a second announcement of the same paste in a thread
// within it: the same form submitted twice at once says it once.
const pasteWindow = 30 * time.Second

// modalOpenTimeout bounds views.open: the trigger_id it spends is good for
// 3 s after Slack sent it, and a slash command still needs its answer after.
const modalOpenTimeout = 2 * time.Second

// channelShape is what a channel ID where a diagnosis can be posted looks
// like: a public or private channel, or a direct message.
var channelShape = regexp.MustCompile(`^[CGD][A-Z0-9]{2,20}$`)

// Messages of the modals.
const (
	msgStaleModal   = "This form is no longer valid (it expired, or the report it came from is gone), so nothing was done. Open it again from the report, or type `/cvm-login` again."
	msgForeignModal = "This form does not match the report or channel it was opened for, so nothing was done. Open it again from the report you mean."
	msgModalFailed  = "I could not open the form (%s). Mention me in the thread with the error instead, e.g. `@cvmlogin %s Permission denied (publickey)`."
	msgNeedSymptom  = "Paste the error message your SSH or Remote Desktop client showed."
	msgNeedTarget   = "Name the instance: its ID (ins-…), public IP or exact name."
)

// symptomModal is the form of the paste_symptom button of conversation c's
// report. Its private_metadata is c's ID; its external_id is key, the Ref
// that binds the form to c and its channel.
func symptomModal(c conversations.Conversation, key string) slack.ModalViewRequest {
	target := escapeMrkdwn(c.Target)
	intro := fmt.Sprintf("What did your SSH or Remote Desktop client say when logging in to *%s* failed? "+
		"Paste its output below (the last lines, with the error, are enough). I will match it to the errors I know "+
		"and diagnose *%s* again with it in mind; the report will say what it means.", target, target)
	return modal(CallbackSymptom, "Paste the error", diag.LabelRediagnose, c.ID, key,
		sectionBlock(blockModalIntro, intro), symptomInputBlock("Error message", false, c.Symptom))
}

// diagnoseModal is the form of /cvm-login typed alone in channel: the
// instance, and optionally the error text. Its private_metadata is channel;
// its external_id is key, the Ref that binds the form to channel.
func diagnoseModal(channel, key string) slack.ModalViewRequest {
	intro := fmt.Sprintf("Diagnose why you can't log in to a Tencent Cloud CVM instance. The report will be posted in <#%s>.", channel)
	target := slack.NewPlainTextInputBlockElement(plainText(diag.TargetExample+", 203.0.113.10 or web-1"), actionTargetInput)
	target.MaxLength, target.FocusOnLoad = maxTargetInput, true
	targetBlock := slack.NewInputBlock(blockTargetInput, plainText("Instance"),
		plainText("Its ID, public IP or exact name. Add a region or a login port if needed: web-1 ap-guangzhou --port 2222"), target)
	return modal(CallbackDiagnose, "Diagnose a login", "Diagnose", channel, key,
		sectionBlock(blockModalIntro, intro), targetBlock, symptomInputBlock("Error message (optional)", true, ""))
}

// symptomInputBlock is the multi-line input where the user pastes the
// error, holding initial (the error pasted before) to begin with.
func symptomInputBlock(label string, optional bool, initial string) *slack.InputBlock {
	text := slack.NewPlainTextInputBlockElement(plainText("ubuntu@203.0.113.10: Permission denied (publickey)."), actionSymptomInput)
	text.Multiline, text.MaxLength, text.FocusOnLoad = true, maxSymptomInput, !optional
	text.InitialValue = truncateText(initial, maxSymptomInput, "")
	hint := plainText(fmt.Sprintf("Up to %d characters. Never paste a password or a private key.", maxSymptomInput))
	return slack.NewInputBlock(blockSymptomInput, plainText(label), hint, text).WithOptional(optional)
}

// modal assembles a form: callback, title and submit label, the metadata
// and Ref key it carries back, and its blocks.
func modal(callback, title, submit, metadata, key string, blocks ...slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callback,
		Title:           plainText(truncateText(title, maxModalTitle, "…")),
		Submit:          plainText(truncateText(submit, maxModalButton, "…")),
		Close:           plainText("Cancel"),
		Blocks:          slack.Blocks{BlockSet: blocks},
		PrivateMetadata: metadata,
		ExternalID:      key,
	}
}

// openModal opens view with the trigger_id of the interaction that asked
// for it. It tries once: a trigger works once, for 3 s.
func (b *Bot) openModal(ctx context.Context, trigger string, view slack.ModalViewRequest) error {
	if trigger == "" {
		return errors.New("the request carried no trigger_id")
	}
	ctx, cancel := context.WithTimeout(ctx, modalOpenTimeout)
	defer cancel()
	if _, err := b.slack.OpenViewContext(ctx, trigger, view); err != nil {
		return fmt.Errorf("opening the %s form (views.open): %w", view.CallbackID, err)
	}
	return nil
}

// pasteSymptom opens the symptom form of the pressed report, or tells the
// presser how to give the error without it.
func (b *Bot) pasteSymptom(ctx context.Context, p press) {
	key, err := b.store.CreateRef(ctx, conversations.Ref{Action: CallbackSymptom, ConversationID: p.conv.ID, Channel: p.channel})
	if err != nil {
		b.log.ErrorContext(ctx, "binding the symptom form", "diag_id", p.conv.ID, "err", err)
		b.reply(ctx, p, storeTrouble(err))
		return
	}
	if err := b.openModal(ctx, p.trigger, symptomModal(p.conv, key)); err != nil {
		b.log.WarnContext(ctx, "opening the symptom form", "diag_id", p.conv.ID, "user", p.user, "err", err)
		b.reply(ctx, p, fmt.Sprintf(msgModalFailed, escapeMrkdwn(textclip.Bytes(err.Error(), 200)), escapeMrkdwn(p.conv.Target)))
	}
}

// openDiagnoseModal opens the diagnosis form for /cvm-login typed alone,
// and reports whether it did; if not, the command is answered with help.
func (b *Bot) openDiagnoseModal(ctx context.Context, cmd slack.SlashCommand) bool {
	if cmd.TriggerID == "" || !channelShape.MatchString(cmd.ChannelID) {
		return false
	}
	log := b.log.With("channel", cmd.ChannelID, "user", cmd.UserID)
	key, err := b.store.CreateRef(ctx, conversations.Ref{Action: CallbackDiagnose, Channel: cmd.ChannelID})
	if err != nil {
		log.ErrorContext(ctx, "binding the diagnosis form", "err", err)
		return false
	}
	if err := b.openModal(ctx, cmd.TriggerID, diagnoseModal(cmd.ChannelID, key)); err != nil {
		log.WarnContext(ctx, "opening the diagnosis form; answering with help", "err", err)
		return false
	}
	return true
}

// submission is a submitted form as its payload gives it: nothing in it is
// trusted yet.
type submission struct {
	user     string
	callback string
	metadata string            // private_metadata
	key      string            // external_id: the Ref bound when the form opened
	values   map[string]string // input values, by block_id
}

// readSubmission reads a view_submission payload.
func readSubmission(cb slack.InteractionCallback) submission {
	s := submission{user: cb.User.ID, callback: cb.View.CallbackID, metadata: cb.View.PrivateMetadata,
		key: cb.View.ExternalID, values: map[string]string{}}
	if cb.View.State == nil {
		return s
	}
	for _, block := range []struct{ id, action string }{{blockSymptomInput, actionSymptomInput}, {blockTargetInput, actionTargetInput}} {
		if a, ok := cb.View.State.Values[block.id][block.action]; ok {
			s.values[block.id] = a.Value
		}
	}
	return s
}

// Submit implements slackio.Handler: a form is checked, then its
// diagnosis queued, within the submission's acknowledgement. Mistakes in
// the inputs are shown under them; a form that is stale or does not match
// what it was opened for is refused with a notice, and nothing runs.
func (b *Bot) Submit(ctx context.Context, cb slack.InteractionCallback) slackio.ViewReply {
	s := readSubmission(cb)
	switch s.callback {
	case CallbackSymptom:
		return b.submitSymptom(ctx, s)
	case CallbackDiagnose:
		return b.submitDiagnose(ctx, s)
	}
	b.log.WarnContext(ctx, "refused the submission of an unknown form", "callback_id", s.callback, "user", s.user)
	return slackio.ViewReply{Notice: msgStaleModal}
}

// submitSymptom stores the pasted error as the conversation's symptom and
// re-diagnoses it in its thread.
func (b *Bot) submitSymptom(ctx context.Context, s submission) slackio.ViewReply {
	symptom, errs := symptomInput(s.values, false)
	if errs != nil {
		return slackio.ViewReply{Errors: errs}
	}
	c, refusal := b.symptomConversation(ctx, s)
	if refusal != "" {
		return slackio.ViewReply{Notice: refusal}
	}
	if err := b.store.SetSymptom(ctx, c.ID, symptom); err != nil {
		b.log.ErrorContext(ctx, "recording a pasted symptom", "diag_id", c.ID, "err", err)
		return slackio.ViewReply{Notice: storeTrouble(err)}
	}
	c.Symptom = symptom
	text, err := b.queueRediagnosis(ctx, c, s.user)
	if err != nil {
		b.log.ErrorContext(ctx, "queueing a re-diagnosis with a pasted symptom", "diag_id", c.ID, "err", err)
		return slackio.ViewReply{Notice: text}
	}
	b.announceSymptom(ctx, c, s.user, text == "")
	if text != "" {
		return slackio.ViewReply{Notice: text + "\nThe error you pasted is saved: the next re-diagnosis takes it into account."}
	}
	return slackio.ViewReply{}
}

// symptomConversation returns the conversation a symptom form names, once
// the form is shown to be the one the bot opened for it: its Ref names the
// same conversation, in the conversation's own channel, where the bot may
// work. Otherwise it returns what to tell the user.
func (b *Bot) symptomConversation(ctx context.Context, s submission) (conversations.Conversation, string) {
	log := b.log.With("user", s.user, "callback_id", s.callback)
	if !conversations.ValidID(s.metadata) {
		log.WarnContext(ctx, "refused a form with malformed metadata")
		return conversations.Conversation{}, msgStaleModal
	}
	ref, refusal := b.formRef(ctx, s)
	if refusal != "" {
		return conversations.Conversation{}, refusal
	}
	if ref.ConversationID != s.metadata {
		log.WarnContext(ctx, "refused a form naming another conversation than it was opened for", "diag_id", s.metadata, "ref_diag_id", ref.ConversationID)
		return conversations.Conversation{}, msgForeignModal
	}
	c, err := b.store.Conversation(ctx, s.metadata)
	switch {
	case errors.Is(err, conversations.ErrNotFound):
		log.WarnContext(ctx, "refused a form of an unknown conversation", "diag_id", s.metadata)
		return c, msgStaleModal
	case err != nil:
		log.ErrorContext(ctx, "reading a form's conversation", "diag_id", s.metadata, "err", err)
		return c, storeTrouble(err)
	case c.Channel != ref.Channel:
		log.WarnContext(ctx, "refused a form of a conversation in another channel", "diag_id", c.ID, "channel", c.Channel, "ref_channel", ref.Channel)
		return c, msgForeignModal
	case !b.channelAllowed(c.Channel):
		return c, msgChannelNotAllowed
	}
	return c, ""
}

// formRef resolves the Ref a form was bound to when it opened, which must
// be one of its own kind.
func (b *Bot) formRef(ctx context.Context, s submission) (conversations.Ref, string) {
	ref, err := b.store.ResolveRef(ctx, s.key)
	switch {
	case errors.Is(err, conversations.ErrNotFound):
		b.log.WarnContext(ctx, "refused a form with an unknown binding", "user", s.user, "callback_id", s.callback)
		return ref, msgStaleModal
	case err != nil:
		b.log.ErrorContext(ctx, "resolving a form's binding", "user", s.user, "err", err)
		return ref, storeTrouble(err)
	case ref.Action != s.callback:
		b.log.WarnContext(ctx, "refused a form bound to another action", "user", s.user, "callback_id", s.callback, "ref_action", ref.Action)
		return ref, msgForeignModal
	}
	return ref, ""
}

// announceSymptom says in the conversation's thread what the user pasted
// means, and logs it.
func (b *Bot) announceSymptom(ctx context.Context, c conversations.Conversation, user string, rediagnosing bool) {
	s := diag.ClassifySymptom(c.Symptom, "")
	if s == nil {
		return
	}
	if first, err := b.store.FirstSeen(ctx, "paste", c.ID+"/"+c.Symptom, pasteWindow); err == nil && !first {
		return
	}
	text := fmt.Sprintf(":speech_balloon: <@%s> pasted the error they see: *%s* (`%s`).", user, escapeMrkdwn(s.Title), s.Family)
	if rediagnosing {
		text += " Diagnosing again with it in mind."
	}
	_ = b.logEntry(ctx, c.ID, "symptom", fmt.Sprintf("<@%s> pasted an error: %s", user, s.Family))
	ctx = context.WithoutCancel(ctx)
	b.out.send(c.Channel, false, func() { b.postThread(ctx, "posting a pasted symptom", c.Channel, c.ThreadTS, text) })
}

// submitDiagnose starts the diagnosis a /cvm-login form asks for, in the
// channel the command was typed in.
func (b *Bot) submitDiagnose(ctx context.Context, s submission) slackio.ViewReply {
	req, errs := b.diagnoseInput(s.values)
	if errs != nil {
		return slackio.ViewReply{Errors: errs}
	}
	if !channelShape.MatchString(s.metadata) {
		b.log.WarnContext(ctx, "refused a form with malformed metadata", "user", s.user, "callback_id", s.callback)
		return slackio.ViewReply{Notice: msgStaleModal}
	}
	ref, refusal := b.formRef(ctx, s)
	switch {
	case refusal != "":
		return slackio.ViewReply{Notice: refusal}
	case ref.Channel != s.metadata:
		b.log.WarnContext(ctx, "refused a form naming another channel than it was opened in", "user", s.user, "channel", s.metadata, "ref_channel", ref.Channel)
		return slackio.ViewReply{Notice: msgForeignModal}
	case !b.channelAllowed(s.metadata):
		return slackio.ViewReply{Notice: msgChannelNotAllowed}
	}
	text, err := b.startDiagnosis(ctx, req, conversations.Job{Channel: s.metadata, Requester: s.user})
	if err != nil {
		b.log.ErrorContext(ctx, "starting a diagnosis from a form", "channel", s.metadata, "target", req.Target.Raw, "err", err)
	}
	return slackio.ViewReply{Notice: text}
}

// diagnoseInput reads the /cvm-login form: the instance field as command
// text (TARGET [REGION] [--port N]) and the optional error text, which
// takes the place of any typed after the target.
func (b *Bot) diagnoseInput(values map[string]string) (Request, map[string]string) {
	if strings.TrimSpace(values[blockTargetInput]) == "" {
		return Request{}, map[string]string{blockTargetInput: msgNeedTarget}
	}
	if n := utf8.RuneCountInString(values[blockTargetInput]); n > maxTargetInput {
		return Request{}, map[string]string{blockTargetInput: fmt.Sprintf("That is %d characters; an instance takes at most %d.", n, maxTargetInput)}
	}
	req, err := ParseCommand(values[blockTargetInput], b.knownRegion)
	switch {
	case err != nil:
		return Request{}, map[string]string{blockTargetInput: textclip.Bytes(errors.Unwrap(err).Error(), 500)}
	case req.Help:
		return Request{}, map[string]string{blockTargetInput: msgNeedTarget}
	}
	symptom, errs := symptomInput(values, true)
	if errs != nil {
		return Request{}, errs
	}
	if symptom != "" {
		req.Symptom = symptom
	}
	return req, nil
}

// symptomInput returns the error text of a form, the part of it to
// classify, or the message to show under the input: it is required unless
// optional, and at most maxSymptomInput characters.
func symptomInput(values map[string]string, optional bool) (string, map[string]string) {
	text := strings.TrimSpace(values[blockSymptomInput])
	n := utf8.RuneCountInString(text)
	switch {
	case n == 0 && !optional:
		return "", map[string]string{blockSymptomInput: msgNeedSymptom}
	case n > maxSymptomInput:
		return "", map[string]string{blockSymptomInput: fmt.Sprintf("That is %d characters; paste at most %d (the last lines, with the error, are enough).", n, maxSymptomInput)}
	}
	return pastedSymptom(text), nil
}

// pastedSymptom picks, from what the user pasted (often a client's whole
// output, the error last), the part diag should classify, since it reads
// only the first diag.MaxSymptomText bytes: the last line the classifier
// recognises, or else the last lines that fit.
func pastedSymptom(text string) string {
	lines := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := len(lines) - 1; i >= 0; i-- {
		if s := diag.ClassifySymptom(lines[i], ""); s != nil && s.Family != diag.SymptomUnknown {
			return strings.TrimSpace(lines[i])
		}
	}
	tail := ""
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			continue
		}
		if tail == "" && len(line) > diag.MaxSymptomText {
			return lastBytes(line, diag.MaxSymptomText)
		}
		if tail != "" {
			line += "\n" + tail
		}
		if len(line) > diag.MaxSymptomText {
			break
		}
		tail = line
	}
	return tail
}

// lastBytes returns the end of s of at most n bytes, starting on a rune.
func lastBytes(s string, n int) string {
	start := len(s) - n
	for start < len(s) && !utf8.RuneStart(s[start]) {
		start++
	}
	return s[start:]
}

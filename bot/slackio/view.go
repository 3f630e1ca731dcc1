package slackio

import (
	"context"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// The modal a Notice replaces a form with: Slack allows 24 characters in a
// modal's title and close button, and 3000 in a section's text.
const (
	noticeTitle   = "cvmlogin"
	noticeClose   = "Close"
	maxNoticeText = 3000
)

// submissionOnce passes a view_submission, delivered as d, to the Handler
// within Slack's acknowledgement deadline and returns the acknowledgement
// payload: nil, which closes the modal, for the zero ViewReply and for a
// replay of d (the original was answered); a notice when the replay cache
// cannot tell.
func (w *asyncWork) submissionOnce(ctx context.Context, d delivery, cb slack.InteractionCallback) *slack.ViewSubmissionResponse {
	return answerOnce(ctx, w, AckInteraction, d, viewAck(ViewReply{Notice: msgReplayUnchecked}), func(ctx context.Context) *slack.ViewSubmissionResponse {
		return viewAck(w.h.Submit(ctx, cb))
	})
}

// viewAck returns the acknowledgement payload of r: response_action errors
// or update, or nil for the zero ViewReply.
func viewAck(r ViewReply) *slack.ViewSubmissionResponse {
	switch {
	case len(r.Errors) > 0:
		return slack.NewErrorsViewSubmissionResponse(r.Errors)
	case r.Notice != "":
		return slack.NewUpdateViewSubmissionResponse(noticeView(r.Notice))
	}
	return nil
}

// noticeView is a modal that only shows text, in mrkdwn, cut to fit.
func noticeView(text string) *slack.ModalViewRequest {
	if utf8.RuneCountInString(text) > maxNoticeText {
		text = string([]rune(text)[:maxNoticeText-1]) + "…"
	}
	section := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)
	return &slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  slack.NewTextBlockObject(slack.PlainTextType, noticeTitle, false, false),
		Close:  slack.NewTextBlockObject(slack.PlainTextType, noticeClose, false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{section}},
	}
}

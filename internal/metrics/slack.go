package metrics

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// webAPIMethod matches the name of a Slack Web API method, like
// "chat.postMessage" or "apps.connections.open".
var webAPIMethod = regexp.MustCompile(`^[a-z]+(\.[a-zA-Z]+)+$`)

// slackMethods are the Web API methods cvmlogin calls, whose series start
// at zero.
var slackMethods = []string{
	"auth.test", "apps.connections.open", "chat.postMessage", "chat.update", "chat.postEphemeral",
	"files.getUploadURLExternal", "files.completeUploadExternal", "usergroups.users.list", "users.info",
}

// slackErrorCode matches the error codes of Slack's ok:false answers, like
// "not_in_channel"; anything else counts as errorOther, so that the label
// stays bounded.
var slackErrorCode = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// errorOther is the status label of an ok:false answer whose error is not
// shaped like a Slack error code.
const errorOther = "error_other"

// maxAnswerPeek bounds how much of a Web API answer is read to find whether
// it is ok:false; a larger answer counts by its HTTP status.
const maxAnswerPeek = 1 << 20

// otherMethod is the method label of requests that are not Web API calls,
// such as the upload of a file's contents to its upload_url.
const otherMethod = "other"

// InstrumentSlack returns a RoundTripper that sends requests with next
// (http.DefaultTransport if nil) and counts each in
// cvmlogin_slack_api_calls_total, and each 429 answer in
// cvmlogin_slack_api_rate_limited_total, by the Web API method named by the
// last element of the URL path. A Web API answer of HTTP 200 that says
// ok:false is counted by its Slack error (not_in_channel, …), not as 200. Give slack-go an *http.Client using it with
// slack.OptionHTTPClient, before slack.OptionRetryConfig, so that every retry
// slack-go makes is a request counted here.
func (m *Metrics) InstrumentSlack(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &slackTransport{next: next, m: m}
}

type slackTransport struct {
	next http.RoundTripper
	m    *Metrics
}

func (t *slackTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := slackMethod(req.URL.Path)
	resp, err := t.next.RoundTrip(req)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			t.m.slackRateLimited.WithLabelValues(method).Inc()
		}
		if resp.StatusCode == http.StatusOK && method != otherMethod {
			if slackErr := peekSlackError(resp); slackErr != "" {
				status = slackErr
			}
		}
	}
	t.m.slackCalls.WithLabelValues(method, status).Inc()
	return resp, err
}

// slackMethod returns the Web API method a request path calls, like
// "chat.update" for "/api/chat.update", or "other"; the label stays bounded
// whatever the path.
func slackMethod(urlPath string) string {
	if m := path.Base(urlPath); webAPIMethod.MatchString(m) {
		return m
	}
	return otherMethod
}

// peekSlackError returns the error of a Web API answer that says ok:false,
// or "", leaving resp.Body to be read as if untouched.
func peekSlackError(resp *http.Response) string {
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return ""
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerPeek))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if err != nil || len(head) == maxAnswerPeek {
		return ""
	}
	var answer struct {
		OK    *bool  `json:"ok"`
		Error string `json:"error"`
	}
	if json.Unmarshal(head, &answer) != nil || answer.OK == nil || *answer.OK {
		return ""
	}
	if !slackErrorCode.MatchString(answer.Error) {
		return errorOther
	}
	return answer.Error
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

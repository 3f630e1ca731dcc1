package slackio

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Slack's published worked example (docs.slack.dev, "Verifying requests from
// Slack"); reference/slack-platform.md §3.2.
const (
	slackVectorSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	slackVectorTimestamp = "1531420618"
	slackVectorBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackVectorSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

var slackVectorTime = time.Unix(1531420618, 0)

func vectorVerifier(now time.Time) Verifier {
	return Verifier{Secret: slackVectorSecret, Now: func() time.Time { return now }}
}

func signedHeader(signature, timestamp string) http.Header {
	h := http.Header{}
	if signature != "" {
		h.Set(HeaderSignature, signature)
	}
	if timestamp != "" {
		h.Set(HeaderTimestamp, timestamp)
	}
	return h
}

func TestSignSlackVector(t *testing.T) {
	if got := Sign(slackVectorSecret, slackVectorTimestamp, []byte(slackVectorBody)); got != slackVectorSignature {
		t.Errorf("Sign = %s, want Slack's %s", got, slackVectorSignature)
	}
}

func TestVerify(t *testing.T) {
	forged := "v0=" + strings.Repeat("0", 64)
	tests := []struct {
		name      string
		verifier  Verifier
		header    http.Header
		body      string
		wantErr   error // nil: must verify
		wantSkews bool  // the error mentions the skew
	}{
		{"slack vector", vectorVerifier(slackVectorTime), signedHeader(slackVectorSignature, slackVectorTimestamp), slackVectorBody, nil, false},
		{"within window, 4m59s late", vectorVerifier(slackVectorTime.Add(4*time.Minute + 59*time.Second)), signedHeader(slackVectorSignature, slackVectorTimestamp), slackVectorBody, nil, false},
		{"within window, 5m early", vectorVerifier(slackVectorTime.Add(-5 * time.Minute)), signedHeader(slackVectorSignature, slackVectorTimestamp), slackVectorBody, nil, false},
		{"uppercase hex is the same MAC", vectorVerifier(slackVectorTime), signedHeader("v0="+strings.ToUpper(slackVectorSignature[3:]), slackVectorTimestamp), slackVectorBody, nil, false},
		{"forged signature", vectorVerifier(slackVectorTime), signedHeader(forged, slackVectorTimestamp), slackVectorBody, ErrBadSignature, false},
		{"signature without v0=", vectorVerifier(slackVectorTime), signedHeader(slackVectorSignature[3:], slackVectorTimestamp), slackVectorBody, ErrBadSignature, false},
		{"signature not hex", vectorVerifier(slackVectorTime), signedHeader("v0="+strings.Repeat("zz", 32), slackVectorTimestamp), slackVectorBody, ErrBadSignature, false},
		{"truncated signature", vectorVerifier(slackVectorTime), signedHeader(slackVectorSignature[:40], slackVectorTimestamp), slackVectorBody, ErrBadSignature, false},
		{"wrong secret", Verifier{Secret: "not-the-secret", Now: func() time.Time { return slackVectorTime }}, signedHeader(slackVectorSignature, slackVectorTimestamp), slackVectorBody, ErrBadSignature, false},
		{"tampered body", vectorVerifier(slackVectorTime), signedHeader(slackVectorSignature, slackVectorTimestamp), strings.Replace(slackVectorBody, "text=", "text=rm", 1), ErrBadSignature, false},
		{"timestamp changed", vectorVerifier(slackVectorTime), signedHeader(slackVectorSignature, "1531420619"), slackVectorBody, ErrBadSignature, false},
		{"stale by 6 minutes", vectorVerifier(slackVectorTime.Add(6 * time.Minute)), signedHeader(slackVectorSignature, slackVectorTimestamp), slackVectorBody, ErrStaleRequest, true},
		{"future by 6 minutes", vectorVerifier(slackVectorTime.Add(-6 * time.Minute)), signedHeader(slackVectorSignature, slackVectorTimestamp), slackVectorBody, ErrStaleRequest, true},
		{"tighter MaxSkew", Verifier{Secret: slackVectorSecret, Now: func() time.Time { return slackVectorTime.Add(time.Minute) }, MaxSkew: 30 * time.Second}, signedHeader(slackVectorSignature, slackVectorTimestamp), slackVectorBody, ErrStaleRequest, true},
		{"real clock rejects the 2018 vector", Verifier{Secret: slackVectorSecret}, signedHeader(slackVectorSignature, slackVectorTimestamp), slackVectorBody, ErrStaleRequest, true},
		{"far-future timestamp", vectorVerifier(slackVectorTime), signedHeader(slackVectorSignature, "9223372036854775807"), slackVectorBody, ErrStaleRequest, true},
		{"missing signature", vectorVerifier(slackVectorTime), signedHeader("", slackVectorTimestamp), slackVectorBody, ErrMissingHeaders, false},
		{"missing timestamp", vectorVerifier(slackVectorTime), signedHeader(slackVectorSignature, ""), slackVectorBody, ErrMissingHeaders, false},
		{"no headers", vectorVerifier(slackVectorTime), http.Header{}, slackVectorBody, ErrMissingHeaders, false},
		{"non-numeric timestamp", vectorVerifier(slackVectorTime), signedHeader(slackVectorSignature, "yesterday"), slackVectorBody, ErrBadTimestamp, false},
		{"fractional timestamp", vectorVerifier(slackVectorTime), signedHeader(slackVectorSignature, "1531420618.5"), slackVectorBody, ErrBadTimestamp, false},
		{"no secret", Verifier{Now: func() time.Time { return slackVectorTime }}, signedHeader(Sign("", slackVectorTimestamp, []byte(slackVectorBody)), slackVectorTimestamp), slackVectorBody, ErrNoSigningSecret, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.verifier.Verify(tc.header, []byte(tc.body))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.wantErr)
			}
			if tc.wantSkews && !strings.Contains(err.Error(), "off by") {
				t.Errorf("Verify = %q, want the skew in the message", err)
			}
			if err != nil && strings.Contains(err.Error(), slackVectorSecret) {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
}

func TestVerifyUsesNowWhenUnset(t *testing.T) {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	body := []byte(`{"type":"event_callback"}`)
	v := Verifier{Secret: "s3cret"}
	if err := v.Verify(signedHeader(Sign("s3cret", ts, body), ts), body); err != nil {
		t.Fatalf("Verify of a fresh request = %v", err)
	}
}

func newSlackRequest(tb testing.TB, body, signature, timestamp string) *http.Request {
	tb.Helper()
	r := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	r.Header = signedHeader(signature, timestamp)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestReadVerified(t *testing.T) {
	v := vectorVerifier(slackVectorTime)
	t.Run("valid request is readable again", func(t *testing.T) {
		r := newSlackRequest(t, slackVectorBody, slackVectorSignature, slackVectorTimestamp)
		body, err := ReadVerified(r, v, int64(len(slackVectorBody)))
		if err != nil {
			t.Fatalf("ReadVerified = %v", err)
		}
		if string(body) != slackVectorBody {
			t.Errorf("body = %q, want the raw body", body)
		}
		if err := r.ParseForm(); err != nil {
			t.Fatalf("ParseForm after ReadVerified = %v", err)
		}
		if got := r.PostForm.Get("command"); got != "/webhook-collect" {
			t.Errorf("form command = %q, want /webhook-collect", got)
		}
	})
	tests := []struct {
		name      string
		body      string
		signature string
		maxBody   int64
		wantErr   error
	}{
		{"oversized body", slackVectorBody, slackVectorSignature, int64(len(slackVectorBody)) - 1, ErrBodyTooLarge},
		{"oversized body with default limit", strings.Repeat("a", DefaultMaxBody+1), slackVectorSignature, 0, ErrBodyTooLarge},
		{"tampered body", slackVectorBody + "&text=reboot", slackVectorSignature, 0, ErrBadSignature},
		{"forged signature", slackVectorBody, "v0=" + strings.Repeat("ab", 32), 0, ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newSlackRequest(t, tc.body, tc.signature, slackVectorTimestamp)
			body, err := ReadVerified(r, v, tc.maxBody)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ReadVerified = %v, want %v", err, tc.wantErr)
			}
			if body != nil {
				t.Errorf("ReadVerified returned %d bytes with an error", len(body))
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestReadVerifiedReadError(t *testing.T) {
	r := newSlackRequest(t, "", slackVectorSignature, slackVectorTimestamp)
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader([]byte("tok")), failingReader{}))
	_, err := ReadVerified(r, vectorVerifier(slackVectorTime), 0)
	if err == nil || !strings.Contains(err.Error(), "reading slack request body") {
		t.Fatalf("ReadVerified = %v, want a wrapped read error", err)
	}
}

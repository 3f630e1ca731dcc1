package slackio

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers Slack signs every HTTP request with (v0 scheme).
const (
	HeaderSignature = "X-Slack-Signature"
	HeaderTimestamp = "X-Slack-Request-Timestamp"
)

// DefaultMaxSkew is how far a request's timestamp may be from the local clock,
// in either direction, when Verifier.MaxSkew is zero: Slack's five minutes.
const DefaultMaxSkew = 5 * time.Minute

// DefaultMaxBody bounds a request body when ReadVerified is given no positive
// limit. Slack's largest payloads (interactions carrying a whole message) stay
// well below it.
const DefaultMaxBody = 1 << 20

// signatureVersion prefixes both the signed base string and the header value.
const signatureVersion = "v0"

// The errors Verify and ReadVerified return. Each means the request must be
// rejected; none of them echoes the signature or the secret.
var (
	ErrNoSigningSecret = errors.New("slack request: no signing secret configured")
	ErrMissingHeaders  = errors.New("slack request: missing " + HeaderSignature + " or " + HeaderTimestamp + " header")
	ErrBadTimestamp    = errors.New("slack request: " + HeaderTimestamp + " is not a Unix time")
	ErrStaleRequest    = errors.New("slack request: timestamp outside the allowed window")
	ErrBadSignature    = errors.New("slack request: signature does not match")
	ErrBodyTooLarge    = errors.New("slack request: body too large")
)

// Verifier checks Slack's v0 request signatures: an HMAC-SHA256, keyed with
// the app's signing secret, of "v0:" + timestamp + ":" + raw body.
//
// The zero value rejects every request (no secret). A Verifier is a value and
// safe for concurrent use.
type Verifier struct {
	// Secret is the app's signing secret, used as raw bytes.
	Secret string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew is the allowed distance between the request's timestamp and
	// Now, in either direction; zero means DefaultMaxSkew.
	MaxSkew time.Duration
}

// Verify checks that body and header carry a valid, fresh Slack signature.
//
// It returns ErrNoSigningSecret if v has no secret, ErrMissingHeaders if a
// header is absent, ErrBadTimestamp if the timestamp is not an integer,
// ErrStaleRequest (wrapped, with the skew) if it is further than MaxSkew from
// Now, and ErrBadSignature if the signature is malformed or does not match.
// The comparison is constant-time. Verify does not de-duplicate: the same
// request verifies again within the window; HTTPServer refuses the replay.
func (v Verifier) Verify(header http.Header, body []byte) error {
	if v.Secret == "" {
		return ErrNoSigningSecret
	}
	signature, timestamp := header.Get(HeaderSignature), header.Get(HeaderTimestamp)
	if signature == "" || timestamp == "" {
		return ErrMissingHeaders
	}
	if err := v.checkTimestamp(timestamp); err != nil {
		return err
	}
	got, ok := decodeSignature(signature)
	if !ok || !hmac.Equal(got, mac(v.Secret, timestamp, body)) {
		return ErrBadSignature
	}
	return nil
}

func (v Verifier) checkTimestamp(timestamp string) error {
	seconds, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	maxSkew := v.MaxSkew
	if maxSkew == 0 {
		maxSkew = DefaultMaxSkew
	}
	if skew := now().Sub(time.Unix(seconds, 0)).Abs(); skew > maxSkew {
		return fmt.Errorf("%w: off by %s (allowed %s)", ErrStaleRequest, skew.Round(time.Second), maxSkew)
	}
	return nil
}

// decodeSignature returns the MAC carried by a "v0=<hex>" header value.
func decodeSignature(signature string) ([]byte, bool) {
	hexMAC, ok := strings.CutPrefix(signature, signatureVersion+"=")
	if !ok || len(hexMAC) != 2*sha256.Size {
		return nil, false
	}
	got, err := hex.DecodeString(hexMAC)
	return got, err == nil
}

// replayKey names a verified request in the replay cache: its signature,
// spelled one way (hex digits are case-insensitive), so that a replay cannot
// pass as new by changing their case.
func replayKey(h http.Header) string { return strings.ToLower(h.Get(HeaderSignature)) }

func mac(secret, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	io.WriteString(h, signatureVersion+":"+timestamp+":")
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the X-Slack-Signature value Slack would send for body at
// timestamp (Unix seconds, as sent in X-Slack-Request-Timestamp). Tests and
// simulators use it to build signed requests.
func Sign(secret, timestamp string, body []byte) string {
	return signatureVersion + "=" + hex.EncodeToString(mac(secret, timestamp, body))
}

// ReadVerified reads r's raw body, at most maxBody bytes (DefaultMaxBody if
// maxBody <= 0), and verifies its signature with v before anything parses it.
// On success it returns the body and also puts it back into r.Body, so that
// form or JSON parsing can follow.
//
// It returns ErrBodyTooLarge if the body exceeds the limit, a wrapped read
// error if the body cannot be read, and otherwise Verify's errors.
func ReadVerified(r *http.Request, v Verifier, maxBody int64) ([]byte, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading slack request body: %w", err)
	}
	if int64(len(body)) > maxBody {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, maxBody)
	}
	if err := v.Verify(r.Header, body); err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

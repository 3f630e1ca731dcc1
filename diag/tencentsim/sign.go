package tencentsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TestSecretID and TestSecretKey are the simulator's default credentials.
// They are fake and work nowhere else.
const (
	TestSecretID  = "AKIDsimulatorFAKEsecretID00000000000"
	TestSecretKey = "simulatorFAKEsecretKEY0000000000"
)

const (
	signAlgorithm   = "TC3-HMAC-SHA256"
	scopeTerminator = "tc3_request"
	signedHeaders   = "content-type;host"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	// signatureWindow is how far X-TC-Timestamp may be from the server's
	// clock, either way, before AuthFailure.SignatureExpire.
	signatureWindow = 300 * time.Second
)

// Sign returns the Authorization header value of a TC3-HMAC-SHA256 signed
// POST request, as the Tencent Cloud SDK computes it: the signed headers are
// content-type and host, with exactly the values sent (host includes the port
// when there is one), and ts is the X-TC-Timestamp in Unix seconds.
func Sign(secretID, secretKey, service, host, contentType string, ts int64, body []byte) string {
	headers := canonicalHeaders([]string{"content-type", "host"}, []string{contentType, host})
	date := utcDate(ts)
	sig := signature(secretKey, date, service, ts, canonicalRequest(http.MethodPost, headers, signedHeaders, sha256Hex(body)))
	return fmt.Sprintf("%s Credential=%s/%s/%s/%s, SignedHeaders=%s, Signature=%s",
		signAlgorithm, secretID, date, service, scopeTerminator, signedHeaders, sig)
}

// authorization is a parsed TC3 Authorization header.
type authorization struct {
	secretID      string
	date          string // YYYY-MM-DD of the credential scope
	service       string
	signedHeaders []string
	signature     string
}

// parseAuthorization parses "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request,
// SignedHeaders=content-type;host, Signature=HEX". It returns whatever it
// could read (the service, for routing and the call record) with the error.
func parseAuthorization(header string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(strings.TrimSpace(header), signAlgorithm+" ")
	if !ok {
		return a, apiErrorf(codeInvalidAuthorization, "the Authorization header is missing or is not %s", signAlgorithm)
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		key, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[key] = value
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) == 4 {
		a.secretID, a.date, a.service = scope[0], scope[1], scope[2]
	}
	a.signedHeaders = strings.Split(strings.ToLower(fields["SignedHeaders"]), ";")
	a.signature = strings.ToLower(fields["Signature"])
	switch {
	case len(scope) != 4 || scope[3] != scopeTerminator || a.secretID == "" || a.service == "":
		return a, apiErrorf(codeInvalidAuthorization, "the Authorization Credential must be SecretId/Date/Service/%s", scopeTerminator)
	case !slices.Contains(a.signedHeaders, "content-type") || !slices.Contains(a.signedHeaders, "host"):
		return a, apiErrorf(codeInvalidAuthorization, "SignedHeaders must include content-type and host")
	case a.signature == "":
		return a, apiErrorf(codeInvalidAuthorization, "the Authorization header has no Signature")
	}
	return a, nil
}

// verifySignature checks a request against its parsed Authorization header,
// in the order Tencent Cloud does: the secret, the clock, the signature.
func verifySignature(r *http.Request, a authorization, body []byte, secrets map[string]string, now time.Time) error {
	secretKey, ok := secrets[a.secretID]
	if !ok {
		return apiErrorf(codeSecretIDNotFound, "the SecretId is not found, please ensure that your SecretId is correct")
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		return apiErrorf(codeInvalidAuthorization, "X-TC-Timestamp is missing or is not Unix seconds")
	}
	skew := now.Sub(time.Unix(ts, 0))
	if skew > signatureWindow || skew < -signatureWindow || a.date != utcDate(ts) {
		return apiErrorf(codeSignatureExpire, "the signature has expired: timestamp %d is %s away from server time %d, or its credential date %s is not its UTC date",
			ts, skew.Abs().Round(time.Second), now.Unix(), a.date)
	}
	values := make([]string, len(a.signedHeaders))
	for i, name := range a.signedHeaders {
		values[i] = headerValue(r, name)
	}
	payloadHash := sha256Hex(body)
	if r.Header.Get("X-TC-Content-SHA256") == unsignedPayload {
		payloadHash = sha256Hex([]byte(unsignedPayload))
	}
	request := canonicalRequest(r.Method, canonicalHeaders(a.signedHeaders, values), strings.Join(a.signedHeaders, ";"), payloadHash)
	want := signature(secretKey, a.date, a.service, ts, request)
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return apiErrorf(codeSignatureFailure, "the provided credentials could not be validated: check the SecretKey and the signing steps")
	}
	return nil
}

// headerValue is the value a signed header had on the wire. Go moves Host
// out of the header map.
func headerValue(r *http.Request, name string) string {
	if name == "host" {
		return r.Host
	}
	return r.Header.Get(name)
}

// canonicalHeaders renders "name:value\n" lines, sorted by name.
func canonicalHeaders(names, values []string) string {
	lines := make([]string, len(names))
	for i, name := range names {
		lines[i] = strings.ToLower(name) + ":" + strings.TrimSpace(values[i]) + "\n"
	}
	slices.Sort(lines)
	return strings.Join(lines, "")
}

// canonicalRequest is step 1 of TC3 signing. The URI is always "/" and the
// query string empty, as the SDK signs them even when it posts to a path.
func canonicalRequest(method, headers, signed, payloadHash string) string {
	return strings.Join([]string{method, "/", "", headers, signed, payloadHash}, "\n")
}

// signature is steps 2 and 3 of TC3 signing.
func signature(secretKey, date, service string, ts int64, canonical string) string {
	stringToSign := strings.Join([]string{
		signAlgorithm,
		strconv.FormatInt(ts, 10),
		date + "/" + service + "/" + scopeTerminator,
		sha256Hex([]byte(canonical)),
	}, "\n")
	key := hmacSHA256([]byte("TC3"+secretKey), date)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, scopeTerminator)
	return hex.EncodeToString(hmacSHA256(key, stringToSign))
}

func utcDate(ts int64) string { return time.Unix(ts, 0).UTC().Format(time.DateOnly) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

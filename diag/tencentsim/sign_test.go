package tencentsim

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The official TC3-HMAC-SHA256 worked example (Signature v3 documentation).
const (
	vectorSecretID    = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
	vectorSecretKey   = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
	vectorHost        = "cvm.tencentcloudapi.com"
	vectorContentType = "application/json; charset=utf-8"
	vectorTimestamp   = 1551113065
	vectorBody        = `{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`
	vectorSignature   = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
)

func TestSignOfficialVector(t *testing.T) {
	got := Sign(vectorSecretID, vectorSecretKey, "cvm", vectorHost, vectorContentType, vectorTimestamp, []byte(vectorBody))
	want := "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, " +
		"SignedHeaders=content-type;host, Signature=" + vectorSignature
	if got != want {
		t.Errorf("Sign =\n%s\nwant\n%s", got, want)
	}
}

func TestVerifySignatureOfficialVector(t *testing.T) {
	r, err := http.NewRequest(http.MethodPost, "https://"+vectorHost+"/", strings.NewReader(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", vectorContentType)
	r.Header.Set("X-TC-Timestamp", strconv.Itoa(vectorTimestamp))
	header := "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, " +
		"SignedHeaders=content-type;host, Signature=" + vectorSignature
	auth, err := parseAuthorization(header)
	if err != nil {
		t.Fatalf("parseAuthorization: %v", err)
	}
	secrets := map[string]string{vectorSecretID: vectorSecretKey}
	now := time.Unix(vectorTimestamp+42, 0)
	if err := verifySignature(r, auth, []byte(vectorBody), secrets, now); err != nil {
		t.Errorf("verifySignature(official vector) = %v, want nil", err)
	}
	if err := verifySignature(r, auth, []byte(vectorBody+" "), secrets, now); err == nil {
		t.Error("verifySignature accepted a body the signature does not cover")
	}
}

func TestVerifierRejects(t *testing.T) {
	clock := newFakeClock()
	_, client := startSim(t, clock, Options{})
	now := clock.Now().Unix()
	str := func(s string) *string { return &s }
	tests := []struct {
		name     string
		call     wireCall
		wantCode string
	}{
		{"well signed", wireCall{}, ""},
		{"charset in Content-Type, signed verbatim", wireCall{contentType: "application/json; charset=utf-8"}, ""},
		{"unsigned payload", wireCall{sentBody: str(`{"Limit": 2}`), headers: map[string]string{"X-TC-Content-SHA256": "UNSIGNED-PAYLOAD"},
			authorization: str(signUnsigned(client.endpoint, now))}, ""},
		{"unknown SecretId", wireCall{secretID: "AKIDunknown", secretKey: TestSecretKey}, codeSecretIDNotFound},
		{"wrong SecretKey (forged)", wireCall{secretID: TestSecretID, secretKey: "not-the-key"}, codeSignatureFailure},
		{"body changed after signing", wireCall{sentBody: str(`{"Limit": 2}`)}, codeSignatureFailure},
		{"signed for another host", wireCall{signedHost: "cvm.tencentcloudapi.com"}, codeSignatureFailure},
		{"timestamp 301 s old", wireCall{ts: now - 301}, codeSignatureExpire},
		{"timestamp 301 s ahead", wireCall{ts: now + 301}, codeSignatureExpire},
		{"timestamp 299 s old", wireCall{ts: now - 299}, ""},
		{"credential date not the timestamp's", wireCall{authorization: str(strings.Replace(
			Sign(TestSecretID, TestSecretKey, "cvm", client.endpoint, "application/json", now, []byte(`{"Limit": 1}`)),
			utcDate(now), "2019-02-25", 1))}, codeSignatureExpire},
		{"no Authorization", wireCall{authorization: str("")}, codeInvalidAuthorization},
		{"another algorithm", wireCall{authorization: str("HMAC-SHA256 Credential=x")}, codeInvalidAuthorization},
		{"garbled credential", wireCall{authorization: str("TC3-HMAC-SHA256 Credential=AKID/cvm, SignedHeaders=content-type;host, Signature=00")}, codeInvalidAuthorization},
		{"host not signed", wireCall{authorization: str(strings.Replace(
			Sign(TestSecretID, TestSecretKey, "cvm", client.endpoint, "application/json", now, []byte(`{"Limit": 1}`)),
			"SignedHeaders=content-type;host", "SignedHeaders=content-type", 1))}, codeInvalidAuthorization},
		{"no timestamp header", wireCall{headers: map[string]string{"X-TC-Timestamp": "soon"}}, codeInvalidAuthorization},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := tt.call
			call.service, call.action, call.params = "cvm", "DescribeInstances", `{"Limit": 1}`
			r := client.send(call)
			if r.code() != tt.wantCode {
				t.Errorf("error code %q (%v), want %q", r.code(), r.Error, tt.wantCode)
			}
		})
	}
}

// signUnsigned signs a request whose payload hash is that of "UNSIGNED-PAYLOAD".
func signUnsigned(host string, ts int64) string {
	date := utcDate(ts)
	headers := canonicalHeaders([]string{"content-type", "host"}, []string{"application/json", host})
	sig := signature(TestSecretKey, date, "cvm", ts, canonicalRequest(http.MethodPost, headers, signedHeaders, sha256Hex([]byte(unsignedPayload))))
	return "TC3-HMAC-SHA256 Credential=" + TestSecretID + "/" + date + "/cvm/tc3_request, SignedHeaders=content-type;host, Signature=" + sig
}

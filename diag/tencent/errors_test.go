package tencent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestKindOfCode(t *testing.T) {
	tests := []struct {
		code string
		want diag.ErrorKind
	}{
		{"AuthFailure", diag.KindAuth},
		{"AuthFailure.SignatureFailure", diag.KindAuth},
		{"AuthFailure.SecretIdNotFound", diag.KindAuth},
		{"AuthFailure.SignatureExpire", diag.KindAuth},
		{"AuthFailure.InvalidSecretId", diag.KindAuth},
		{"AuthFailure.TokenFailure", diag.KindAuth},
		{"AuthFailure.MFAFailure", diag.KindAuth},
		{"AuthFailure.UnauthorizedOperation", diag.KindPermission},
		{"UnauthorizedOperation", diag.KindPermission},
		{"UnauthorizedOperation.CamNoAuth", diag.KindPermission},
		{"UnauthorizedOperation.MFAExpired", diag.KindPermission},
		{"FailedOperation.CamNoAuth", diag.KindPermission},
		{"UnauthorizedOperation.CamAuthFailed", diag.KindPermission},
		{"ResourceNotFound", diag.KindNotFound},
		{"ResourceNotFound.InvocationNotFound", diag.KindNotFound},
		{"ResourceNotFound.InstanceNotFound", diag.KindNotFound},
		{"InvalidInstanceId.NotFound", diag.KindNotFound},
		{"InvalidInstanceId.Malformed", diag.KindInvalid},
		{"InvalidParameter", diag.KindInvalid},
		{"InvalidParameterValue.InstanceIdMalformed", diag.KindInvalid},
		{"InvalidParameterCombination", diag.KindInvalid},
		{"MissingParameter", diag.KindInvalid},
		{"UnknownParameter", diag.KindInvalid},
		{"UnsupportedOperation", diag.KindInvalid},
		{"UnsupportedOperation.InstanceStateStopped", diag.KindInvalid},
		{"UnsupportedOperation.DuplicatePolicy", diag.KindInvalid},
		{"UnsupportedOperation.VersionMismatch", diag.KindConflict},
		{"InvalidAction", diag.KindInvalid},
		{"UnsupportedRegion", diag.KindInvalid},
		{"ResourceUnavailable.AgentStatusNotOnline", diag.KindInvalid},
		{"OperationDenied.InstanceOperationInProgress", diag.KindInvalid},
		{"LimitExceeded.SecurityGroupPolicySet", diag.KindInvalid},
		{"FailedOperation.ErrOwed", diag.KindInvalid},
		{"MutexOperation.TaskRunning", diag.KindConflict},
		{"RequestLimitExceeded", diag.KindThrottled},
		{"RequestLimitExceeded.UinLimitExceeded", diag.KindThrottled},
		{"RequestLimitExceeded.IPLimitExceeded", diag.KindThrottled},
		{"RequestLimitExceeded.GlobalRegionUinLimitExceeded", diag.KindThrottled},
		{"InternalError", diag.KindUnavailable},
		{"InternalError.TradeUnknownError", diag.KindUnavailable},
		{"InternalServerError", diag.KindUnavailable},
		{"ClientError.NetworkError", diag.KindUnavailable},
		{"ClientError.ParseJsonError", diag.KindUnavailable},
		{"ClientError.HttpStatusCodeError", diag.KindUnavailable},
		{"ClientError", diag.KindUnavailable},
		{"SomeNewCode.NobodyKnows", diag.KindInvalid},
	}
	for _, tt := range tests {
		if got := kindOfCode(tt.code); got != tt.want {
			t.Errorf("kindOfCode(%q) = %s, want %s", tt.code, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	sdkErr := func(code string) error { return tcerr.NewTencentCloudSDKError(code, "message", "req-1") }
	netErr := tcerr.NewTencentCloudSDKErrorWithCause("ClientError.NetworkError", "Fail to get response", "",
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	tests := []struct {
		name       string
		err        error
		httpStatus int
		read, fix  bool // retryable for a read, for a mutating call
	}{
		{"throttled", sdkErr("RequestLimitExceeded"), 200, true, true},
		{"throttled per uin", sdkErr("RequestLimitExceeded.UinLimitExceeded"), 200, true, true},
		{"internal error", sdkErr("InternalError"), 200, true, false},
		{"internal error with a sub-code", sdkErr("InternalError.ModuleError"), 200, true, false},
		{"internal server error", sdkErr("InternalServerError"), 500, true, false},
		{"network error", netErr, 0, true, false},
		{"connection reset", errors.Join(errors.New("read"), syscall.ECONNRESET), 0, true, false},
		{"net.Error", &net.DNSError{Err: "timeout", IsTimeout: true}, 0, true, false},
		{"5xx without a body", sdkErr("ClientError.ParseJsonError"), 502, true, false},
		{"5xx with a non-error body", sdkErr("ClientError.HttpStatusCodeError"), 503, true, false},
		{"200 with garbage", sdkErr("ClientError.ParseJsonError"), 200, false, false},
		{"signature failure", sdkErr("AuthFailure.SignatureFailure"), 200, false, false},
		{"permission", sdkErr("UnauthorizedOperation.CamNoAuth"), 200, false, false},
		{"input", sdkErr("InvalidParameterValue"), 200, false, false},
		{"not found", sdkErr("ResourceNotFound"), 200, false, false},
		{"version mismatch", sdkErr("UnsupportedOperation.VersionMismatch"), 200, false, false},
		{"no credential", errors.New("DescribeInstances require credential"), 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if got := retryable(describeInstances, apiError(ctx, describeInstances, tt.err, tt.httpStatus), tt.httpStatus); got != tt.read {
				t.Errorf("retryable for a read = %v, want %v", got, tt.read)
			}
			if got := retryable(rebootInstances, apiError(ctx, rebootInstances, tt.err, tt.httpStatus), tt.httpStatus); got != tt.fix {
				t.Errorf("retryable for a mutating call = %v, want %v", got, tt.fix)
			}
		})
	}
}

func TestAPIErrorFromSDKError(t *testing.T) {
	err := apiError(context.Background(), describeInstances,
		tcerr.NewTencentCloudSDKError("AuthFailure.SignatureFailure", "The provided credentials could not be validated.", "req-42"), 200)
	want := diag.APIError{Service: "cvm", Action: "DescribeInstances", Kind: diag.KindAuth,
		Code: "AuthFailure.SignatureFailure", Message: "The provided credentials could not be validated.", RequestID: "req-42"}
	err.Err = nil
	if *err != want {
		t.Errorf("apiError = %+v, want %+v", *err, want)
	}
}

func TestAPIErrorWhenContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	netErr := tcerr.NewTencentCloudSDKErrorWithCause("ClientError.NetworkError", "Fail to get response", "", context.Canceled)
	err := apiError(ctx, getMonitorData, netErr, 0)
	if err.Kind != diag.KindUnavailable || !errors.Is(err, context.Canceled) {
		t.Errorf("apiError = %v (kind %s), want kind unavailable wrapping context.Canceled", err, err.Kind)
	}
}

func TestAPIErrorTruncatesLongMessages(t *testing.T) {
	body := fmt.Sprintf("Fail to parse json content: <html>%0500d</html>", 0)
	err := apiError(context.Background(), describeInstances, tcerr.NewTencentCloudSDKError("ClientError.ParseJsonError", body, ""), 200)
	if len(err.Message) > maxMessageLen+len("…") {
		t.Errorf("message of %d bytes, want at most %d", len(err.Message), maxMessageLen)
	}
}

func TestBackoff(t *testing.T) {
	c := &Client{cfg: Config{RetryBase: 100 * time.Millisecond}}
	for _, tt := range []struct {
		retry    int
		min, max time.Duration
	}{
		{1, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 200 * time.Millisecond, 400 * time.Millisecond},
		{30, maxBackoff / 2, maxBackoff},
	} {
		for range 50 {
			if d := c.backoff(tt.retry); d < tt.min || d >= tt.max {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v)", tt.retry, d, tt.min, tt.max)
			}
		}
	}
}

func TestLooseString(t *testing.T) {
	tests := []struct {
		in      string
		want    looseString
		wantErr bool
	}{
		{`"60"`, "60", false},
		{`60`, "60", false},
		{`6.5`, "6.5", false},
		{`null`, "", false},
		{`""`, "", false},
		{`true`, "", true},
		{`{}`, "", true},
	}
	for _, tt := range tests {
		var got looseString
		err := got.UnmarshalJSON([]byte(tt.in))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("UnmarshalJSON(%s) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestAPIErrorOfAProxyErrorPage(t *testing.T) {
	sdkErr := tcerr.NewTencentCloudSDKError("ClientError.ParseJsonError", "Fail to parse json content: <html>Bad Gateway</html>", "")
	err := apiError(context.Background(), describeInstances, sdkErr, 502)
	if want := "HTTP 502 Bad Gateway without a Tencent Cloud error"; err.Message != want {
		t.Errorf("message %q, want %q", err.Message, want)
	}
}

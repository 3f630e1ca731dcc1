package tencent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/textclip"
)

// codeKinds maps Tencent Cloud error codes to kinds, first match wins. A
// pattern ending in "*" matches by prefix, one starting with "*" by suffix,
// anything else exactly.
var codeKinds = []struct {
	pattern string
	kind    diag.ErrorKind
}{
	{"AuthFailure.UnauthorizedOperation", diag.KindPermission},
	{"AuthFailure*", diag.KindAuth},
	{"UnauthorizedOperation*", diag.KindPermission},
	{"*.CamNoAuth", diag.KindPermission},
	{"*CamAuthFailed", diag.KindPermission},
	{"UnsupportedOperation.VersionMismatch", diag.KindConflict},
	{"MutexOperation*", diag.KindConflict},
	{"RequestLimitExceeded*", diag.KindThrottled},
	{"ResourceNotFound*", diag.KindNotFound},
	{"InvalidInstanceId.NotFound", diag.KindNotFound},
	{"InvalidInstanceId*", diag.KindInvalid},
	{"InvalidParameter*", diag.KindInvalid},
	{"MissingParameter*", diag.KindInvalid},
	{"UnknownParameter*", diag.KindInvalid},
	{"UnsupportedOperation*", diag.KindInvalid},
	{"InvalidAction*", diag.KindInvalid},
	{"UnsupportedRegion*", diag.KindInvalid},
	{"ResourceUnavailable*", diag.KindInvalid},
	{"OperationDenied*", diag.KindInvalid},
	{"LimitExceeded*", diag.KindInvalid},
	{"FailedOperation*", diag.KindInvalid},
	{"InternalError*", diag.KindUnavailable},
	{"InternalServerError*", diag.KindUnavailable},
	{"ClientError*", diag.KindUnavailable},
}

// kindOfCode classifies a Tencent Cloud error code. Codes no rule knows are
// requests the provider refused: KindInvalid.
func kindOfCode(code string) diag.ErrorKind {
	for _, ck := range codeKinds {
		if matchCode(ck.pattern, code) {
			return ck.kind
		}
	}
	return diag.KindInvalid
}

func matchCode(pattern, code string) bool {
	switch {
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(code, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(code, strings.TrimPrefix(pattern, "*"))
	}
	return code == pattern
}

// maxMessageLen bounds provider messages: the SDK quotes whole reply bodies
// (an HTML error page, say) in its parse errors.
const maxMessageLen = 300

// apiError classifies err, the failure of an attempt of op under ctx whose
// reply had HTTP status httpStatus (0 if none arrived).
func apiError(ctx context.Context, op action, err error, httpStatus int) *diag.APIError {
	e := &diag.APIError{Service: op.service, Action: op.name, Kind: diag.KindUnavailable, Err: err}
	var sdkErr *tcerr.TencentCloudSDKError
	if errors.As(err, &sdkErr) {
		e.Code = sdkErr.Code
		e.Message = textclip.Bytes(sdkErr.Message, maxMessageLen)
		e.RequestID = sdkErr.RequestId
		e.Kind = kindOfCode(sdkErr.Code)
		if withoutErrorBody(e.Code) && httpStatus != 0 && httpStatus != http.StatusOK {
			// Rather than the SDK's quote of a proxy's error page.
			e.Message = fmt.Sprintf("HTTP %d %s without a Tencent Cloud error", httpStatus, http.StatusText(httpStatus))
		}
	} else {
		e.Message = textclip.Bytes(err.Error(), maxMessageLen)
	}
	if errors.Is(err, errRateLimitWait) {
		e.Kind = diag.KindThrottled
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		// Whatever the transport made of it, the call ran out of time or was
		// cancelled: say so, and let callers test errors.Is(err, ctx.Err()).
		e.Kind = diag.KindUnavailable
		e.Err = ctxErr
		e.Message = "gave up: " + ctxErr.Error()
	}
	return e
}

// retryable reports whether an attempt of op that failed with e, after a
// reply with HTTP status httpStatus (0 if none arrived), may be sent again.
// Throttling is always retryable: the provider refused the request before
// running it. Network and internal errors are retryable only for reads, since
// a mutating request may have run.
func retryable(op action, e *diag.APIError, httpStatus int) bool {
	if e.Kind == diag.KindThrottled {
		return true
	}
	return !op.mutating && transient(e, httpStatus)
}

// transient reports whether e is a network or provider-internal failure that
// a later attempt may not meet.
func transient(e *diag.APIError, httpStatus int) bool {
	switch {
	case matchCode("InternalError*", e.Code), matchCode("InternalServerError*", e.Code),
		e.Code == "ClientError.NetworkError":
		return true
	case withoutErrorBody(e.Code):
		// A 5xx reply without a Tencent error body: a gateway or proxy failed.
		return httpStatus >= http.StatusInternalServerError
	}
	var netErr net.Error
	return errors.As(e.Err, &netErr) ||
		errors.Is(e.Err, syscall.ECONNREFUSED) || errors.Is(e.Err, syscall.ECONNRESET)
}

// withoutErrorBody reports whether code is the SDK's for a reply that is not a
// Tencent Cloud API reply (not JSON, or no Response.Error on a non-200).
func withoutErrorBody(code string) bool {
	return code == "ClientError.ParseJsonError" || code == "ClientError.HttpStatusCodeError"
}

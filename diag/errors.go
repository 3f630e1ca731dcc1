package diag

import (
	"errors"
	"fmt"
)

// ErrorKind classifies a cloud API failure by what a person should do about it.
type ErrorKind string

// The error kinds. Adapters map provider error codes onto these.
const (
	KindAuth        ErrorKind = "auth"        // credentials rejected: fix the secret or the clock
	KindPermission  ErrorKind = "permission"  // the credentials lack a CAM permission
	KindNotFound    ErrorKind = "not_found"   // the resource does not exist
	KindInvalid     ErrorKind = "invalid"     // the request was malformed or not allowed now
	KindConflict    ErrorKind = "conflict"    // a concurrent change won (e.g. security-group version mismatch)
	KindThrottled   ErrorKind = "throttled"   // rate limited, even after retries
	KindUnavailable ErrorKind = "unavailable" // network failure, timeout or provider internal error
)

// APIError is a failed cloud API call, classified. Adapters return it for
// every provider-side failure so that checks can explain it to users.
type APIError struct {
	Service   string    // e.g. "cvm"
	Action    string    // e.g. "DescribeInstances"
	Kind      ErrorKind // what it means
	Code      string    // the provider's error code, e.g. "UnauthorizedOperation.CamNoAuth"
	Message   string    // the provider's message
	RequestID string    // the provider's request ID, for support tickets
	Err       error     // the underlying error, if any
}

// Error implements error. It names the call, the meaning and the code; it never
// contains credentials.
func (e *APIError) Error() string {
	s := fmt.Sprintf("%s:%s: %s", e.Service, e.Action, e.Kind.describe())
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " [request " + e.RequestID + "]"
	}
	return s
}

// Unwrap returns the underlying error.
func (e *APIError) Unwrap() error { return e.Err }

func (k ErrorKind) describe() string {
	switch k {
	case KindAuth:
		return "credentials rejected"
	case KindPermission:
		return "permission missing"
	case KindNotFound:
		return "not found"
	case KindInvalid:
		return "request rejected"
	case KindConflict:
		return "conflicting change"
	case KindThrottled:
		return "rate limited"
	case KindUnavailable:
		return "API unavailable"
	}
	return "failed"
}

// KindOf returns the kind of the first APIError in err's chain, or "" if there
// is none.
func KindOf(err error) ErrorKind {
	var e *APIError
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// ErrCouldNotRun is returned (wrapped) by Diagnose when the diagnosis could not
// run at all: the instance lookup failed for a reason other than "not found".
var ErrCouldNotRun = errors.New("the diagnosis could not run")

package tencentsim

import "fmt"

// The Tencent Cloud error codes the simulator answers with in more than one
// place. Codes used once are spelled where they are answered.
const (
	codeInvalidAuthorization = "AuthFailure.InvalidAuthorization"
	codeSecretIDNotFound     = "AuthFailure.SecretIdNotFound"
	codeSignatureExpire      = "AuthFailure.SignatureExpire"
	codeSignatureFailure     = "AuthFailure.SignatureFailure"
	codeInternalError        = "InternalError"
	codeInvalidParameter     = "InvalidParameter"
	codeInvalidValue         = "InvalidParameterValue"
	codeMissingParameter     = "MissingParameter"
	codeUnknownParameter     = "UnknownParameter"
	codeResourceNotFound     = "ResourceNotFound"
	codeUnsupportedOperation = "UnsupportedOperation"
	codeVersionMismatch      = "UnsupportedOperation.VersionMismatch"
	// codeClientCanceled is not a Tencent code: Call.ErrorCode carries it when
	// the client went away during injected latency and nothing was done.
	codeClientCanceled = "ClientCanceled"
)

// apiError is an error answered in the Tencent Cloud error envelope.
type apiError struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func apiErrorf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error implements error.
func (e *apiError) Error() string { return e.Code + ": " + e.Message }

package tencent

import (
	"context"
	"net/http"
)

// statusTransport is the HTTP transport shared by every SDK client. Besides
// pooling connections, it notes each reply's HTTP status in the attempt's
// context: the SDK reports a 5xx reply without a JSON body only as a parse
// error, and the status is what makes it safe to retry.
type statusTransport struct {
	next http.RoundTripper
}

func newTransport() http.RoundTripper {
	return statusTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
}

// RoundTrip implements http.RoundTripper.
func (t statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if resp != nil {
		if status, ok := req.Context().Value(httpStatusKey{}).(*int); ok {
			*status = resp.StatusCode
		}
	}
	return resp, err
}

type httpStatusKey struct{}

// withHTTPStatus returns a context in which the transport stores the reply's
// HTTP status into *status.
func withHTTPStatus(ctx context.Context, status *int) context.Context {
	return context.WithValue(ctx, httpStatusKey{}, status)
}

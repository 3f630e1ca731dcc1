package tencent

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"time"

	"github.com/cvmlogin/cvmlogin/diag"
	"github.com/cvmlogin/cvmlogin/internal/pause"
	"github.com/cvmlogin/cvmlogin/internal/textclip"
)

// action is a Tencent Cloud API action as this package calls it.
type action struct {
	service   string // the SDK service name, e.g. "cvm"
	name      string // the action, e.g. "DescribeInstances"
	perSecond int    // the documented default rate limit, requests/s
	mutating  bool   // changes state: retried only when throttled
}

// The actions this package calls, with the rate limits documented on their
// API pages (reference: tencent-cloud-api.md §6).
var (
	describeInstances             = action{service: "cvm", name: "DescribeInstances", perSecond: 40}
	describeImages                = action{service: "cvm", name: "DescribeImages", perSecond: 40}
	rebootInstances               = action{service: "cvm", name: "RebootInstances", perSecond: 10, mutating: true}
	startInstances                = action{service: "cvm", name: "StartInstances", perSecond: 10, mutating: true}
	describeInstanceVncURL        = action{service: "cvm", name: "DescribeInstanceVncUrl", perSecond: 10}
	describeAddresses             = action{service: "vpc", name: "DescribeAddresses", perSecond: 20}
	describeSecurityGroupPolicies = action{service: "vpc", name: "DescribeSecurityGroupPolicies", perSecond: 100}
	createSecurityGroupPolicies   = action{service: "vpc", name: "CreateSecurityGroupPolicies", perSecond: 100, mutating: true}
	deleteSecurityGroupPolicies   = action{service: "vpc", name: "DeleteSecurityGroupPolicies", perSecond: 100, mutating: true}
	describeAddressTemplates      = action{service: "vpc", name: "DescribeAddressTemplates", perSecond: 100}
	describeAddressTemplateGroups = action{service: "vpc", name: "DescribeAddressTemplateGroups", perSecond: 100}
	describeServiceTemplates      = action{service: "vpc", name: "DescribeServiceTemplates", perSecond: 100}
	describeServiceTemplateGroups = action{service: "vpc", name: "DescribeServiceTemplateGroups", perSecond: 100}
	getMonitorData                = action{service: "monitor", name: "GetMonitorData", perSecond: 20}
	describeAccountBalance        = action{service: "billing", name: "DescribeAccountBalance", perSecond: 20}
	runCommand                    = action{service: "tat", name: "RunCommand", perSecond: 20, mutating: true}
	describeInvocationTasks       = action{service: "tat", name: "DescribeInvocationTasks", perSecond: 20}
	// Documented as 60/s on the current page, 20/s on an older one.
	describeAutomationAgentStatus = action{service: "tat", name: "DescribeAutomationAgentStatus", perSecond: 20}
	describeBasicDeviceStatus     = action{service: "antiddos", name: "DescribeBasicDeviceStatus", perSecond: 20}
)

var actions = []action{
	describeInstances, describeImages, rebootInstances, startInstances, describeInstanceVncURL,
	describeAddresses, describeSecurityGroupPolicies, createSecurityGroupPolicies, deleteSecurityGroupPolicies,
	describeAddressTemplates, describeAddressTemplateGroups, describeServiceTemplates, describeServiceTemplateGroups,
	getMonitorData, describeAccountBalance,
	runCommand, describeInvocationTasks, describeAutomationAgentStatus,
	describeBasicDeviceStatus,
}

// maxBackoff caps the delay before a retry.
const maxBackoff = 5 * time.Second

var (
	errNoResponse    = errors.New("the reply has no Response object")
	errRateLimitWait = errors.New("the client-side rate limit leaves no slot before the deadline")
)

// callProvider makes one logical API call: send(ctx, req), throttled, retried
// where that is safe, bounded in time (see startCall), logged and recorded
// in the context's call log. Failures are *diag.APIError. region is for the
// log. Methods use call, which adds the reply cache.
//
// A throttled attempt is retried for as long as the deadline allows, not
// just MaxRetries times: the call fails with KindThrottled only when the
// deadline runs out while the provider still refuses it.
func callProvider[Req, Reply any](ctx context.Context, c *Client, op action, region string,
	send func(context.Context, Req) (Reply, error), req Req) (Reply, error) {
	callCtx, clock, cancel := c.startCall(ctx)
	defer cancel()
	var (
		reply    Reply
		attempts int
		last     *diag.APIError // the last attempt's failure
		waitErr  error          // why the budget gave no slot
	)
	for {
		if waitErr = clock.budgetWait(func() error { return c.wait(callCtx, op) }); waitErr != nil {
			break
		}
		attempts++
		var status int
		reply, status, last = attempt(callCtx, clock, op, send, req)
		if last == nil || !c.retry(callCtx, clock, op, last, status, attempts) {
			break
		}
	}
	elapsed := time.Since(clock.start)
	if e := finalError(callCtx, op, last, waitErr); e != nil {
		c.record(ctx, op, region, elapsed, attempts, e.RequestID, errorCode(e))
		var zero Reply
		return zero, e
	}
	requestID, _ := requestIDOf(reply)
	c.record(ctx, op, region, elapsed, attempts, requestID, "")
	return reply, nil
}

// callClock keeps the time a logical call has spent on the provider: its
// attempts and the pauses between retries of failures, that is everything
// but its waits for the request budget.
type callClock struct {
	limit  time.Duration // what the call may spend on the provider
	start  time.Time
	waited time.Duration // in budget waits so far
}

// startCall returns the context a logical call runs under and its clock.
// Under a diag call timeout (diag.WithCallTimeout) and a deadline, the
// call may wait for the request budget until ctx's deadline, and spend the
// call timeout (at most Config.Timeout) on the provider. Otherwise
// Config.Timeout bounds the whole call, budget waits included.
func (c *Client) startCall(ctx context.Context) (context.Context, *callClock, context.CancelFunc) {
	clock := &callClock{limit: c.cfg.Timeout, start: time.Now()}
	d, ok := diag.CallTimeout(ctx)
	if _, hasDeadline := ctx.Deadline(); ok && hasDeadline {
		clock.limit = min(clock.limit, d)
		return ctx, clock, func() {}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	return ctx, clock, cancel
}

// left returns the time the call may still spend on the provider.
func (k *callClock) left() time.Duration {
	return k.limit - (time.Since(k.start) - k.waited)
}

// budgetWait runs wait, a wait for the request budget, off the clock.
func (k *callClock) budgetWait(wait func() error) error {
	started := time.Now()
	err := wait()
	k.waited += time.Since(started)
	return err
}

// attempt sends req once, within the time the call has left on the
// provider, and returns the reply, its HTTP status (0 if none arrived) and
// the failure, if any.
func attempt[Req, Reply any](ctx context.Context, clock *callClock, op action,
	send func(context.Context, Req) (Reply, error), req Req) (Reply, int, *diag.APIError) {
	ctx, cancel := context.WithTimeout(ctx, clock.left())
	defer cancel()
	var status int
	reply, err := send(withHTTPStatus(ctx, &status), req)
	if err == nil {
		if _, ok := requestIDOf(reply); ok {
			return reply, status, nil
		}
		err = errNoResponse
	}
	return reply, status, apiError(ctx, op, err, status)
}

// retry decides whether to send op again after attempt number attempts failed
// with e, and if so waits for the backoff; it reports false when the call
// should stop. Backing off from throttling is a budget wait, bounded by
// ctx's deadline; backing off from other failures is time on the provider.
func (c *Client) retry(ctx context.Context, clock *callClock, op action, e *diag.APIError, status, attempts int) bool {
	throttled := e.Kind == diag.KindThrottled
	if ctx.Err() != nil || !retryable(op, e, status) || (!throttled && attempts > c.cfg.MaxRetries) {
		return false
	}
	deadline, _ := ctx.Deadline() // startCall gives every call one
	// Leave time for one more attempt.
	d := min(c.backoff(attempts), time.Until(deadline)/2)
	if !throttled {
		d = min(d, clock.left()/2)
	}
	if d < c.cfg.RetryBase/2 || clock.left() < c.cfg.RetryBase {
		return false // the time has as good as run out
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "retrying tencent cloud call",
		slog.String("action", op.name), slog.Int("attempt", attempts), slog.String("error_code", errorCode(e)),
		slog.Duration("backoff", d))
	if throttled {
		return clock.budgetWait(func() error { return pause.For(ctx, d) }) == nil
	}
	return pause.For(ctx, d) == nil
}

// finalError is the error a call fails with, nil for a success: last, the
// last attempt's failure, or why the budget gave no slot (waitErr). A call
// the provider was still throttling when it stopped ran out of time while
// throttled (throttling is retried while time is left): the throttling is
// what the caller hears of, unless ctx was cancelled.
func finalError(ctx context.Context, op action, last *diag.APIError, waitErr error) *diag.APIError {
	switch {
	case last == nil && waitErr == nil:
		return nil
	case errors.Is(ctx.Err(), context.Canceled):
		return apiError(ctx, op, ctx.Err(), 0)
	case last != nil && last.Kind == diag.KindThrottled:
		throttled := *last
		throttled.Message = textclip.Bytes("still throttled when the deadline passed: "+last.Message, maxMessageLen)
		return &throttled
	case waitErr != nil:
		return apiError(ctx, op, waitErr, 0)
	}
	return last
}

// wait blocks until the limiter grants a call to op, or fails with ctx's
// error or errRateLimitWait.
func (c *Client) wait(ctx context.Context, op action) error {
	if err := c.limiter.Wait(ctx, c.account, op.name); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errRateLimitWait
	}
	return nil
}

// backoff returns the delay before retry n (1-based): RetryBase doubled n-1
// times, capped at maxBackoff, jittered uniformly into its upper half.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.RetryBase
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d/2 + rand.N(d-d/2)
}

// errorCode is what the call log and the log say about a failure: the
// provider's (or SDK's) error code, or the kind when there is none.
func errorCode(e *diag.APIError) string {
	if e.Code != "" {
		return e.Code
	}
	return string(e.Kind)
}

// record logs a finished call at Debug level, with ctx so that the log line
// carries the diagnosis ID, adds it to ctx's call log and passes it to
// Config.OnCall. errCode is "" for a success.
func (c *Client) record(ctx context.Context, op action, region string, d time.Duration, attempts int, requestID, errCode string) {
	c.log.LogAttrs(ctx, slog.LevelDebug, "tencent cloud call",
		slog.String("service", op.service),
		slog.String("action", op.name),
		slog.String("region", region),
		slog.Duration("duration", d),
		slog.Int("attempts", attempts),
		slog.String("request_id", requestID),
		slog.String("error_code", errCode))
	call := diag.APICall{
		Service:    op.service,
		Action:     op.name,
		Region:     region,
		DurationMS: d.Milliseconds(),
		Attempts:   attempts,
		RequestID:  requestID,
		ErrorCode:  errCode,
	}
	diag.RecordCall(ctx, call)
	if c.cfg.OnCall != nil {
		c.cfg.OnCall(call)
	}
}

// requestIDOf returns the RequestId of a reply. Every SDK reply type (and
// sgPoliciesReply) is a pointer to a struct whose Response field points to a
// struct with a RequestId *string field; ok is false when Response is nil,
// that is when the reply had no Response object.
func requestIDOf(reply any) (id string, ok bool) {
	v := reflect.ValueOf(reply)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return "", false
	}
	params := v.Elem().FieldByName("Response")
	if params.Kind() != reflect.Pointer || params.IsNil() {
		return "", false
	}
	rid := params.Elem().FieldByName("RequestId")
	if !rid.IsValid() || rid.Kind() != reflect.Pointer || rid.IsNil() {
		return "", true
	}
	return rid.Elem().String(), true
}

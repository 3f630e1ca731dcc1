package tencent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"

	"github.com/cvmlogin/cvmlogin/diag"
)

func TestRetriesThrottledCallThenSucceeds(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeInstances",
		failure("RequestLimitExceeded.UinLimitExceeded", "too many requests from this account"),
		success(describeInstancesReply))
	c := newTestClient(t, f, nil, nil)
	ctx, calls := withCallLog()

	got, err := c.FindInstances(ctx, testRegion, diag.InstanceQuery{ID: "ins-abc12345"})
	if err != nil || len(got) != 1 {
		t.Fatalf("FindInstances = %d instances, %v; want 1, nil", len(got), err)
	}
	want := []diag.APICall{{Service: "cvm", Action: "DescribeInstances", Region: testRegion, Attempts: 2, RequestID: "req-ok"}}
	if log := zeroDurations(calls.Calls()); !slices.Equal(log, want) {
		t.Errorf("call log %+v, want %+v", log, want)
	}
}

func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		name         string
		action       string
		replies      []reply
		do           func(context.Context, *Client) error
		wantRequests int
		wantKind     diag.ErrorKind // "" for success
	}{
		{"auth failure is not retried", "DescribeInstances",
			[]reply{failure("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")},
			findInstance, 1, diag.KindAuth},
		{"permission is not retried", "DescribeAccountBalance",
			[]reply{failure("UnauthorizedOperation.CamNoAuth", "no permission")},
			accountBalance, 1, diag.KindPermission},
		{"a read is retried on an internal error", "DescribeInstances",
			[]reply{failure("InternalError", "oops"), success(describeInstancesReply)},
			findInstance, 2, ""},
		{"a read is retried on a 5xx without a body", "DescribeInstances",
			[]reply{{status: 502}, success(describeInstancesReply)},
			findInstance, 2, ""},
		{"a read is retried when the connection drops", "DescribeInstances",
			[]reply{{hangUp: true}, success(describeInstancesReply)},
			findInstance, 2, ""},
		{"retries are bounded", "DescribeInstances",
			[]reply{failure("InternalError", "oops")},
			findInstance, 1 + DefaultMaxRetries, diag.KindUnavailable},
		{"a reboot is not retried on an internal error", "RebootInstances",
			[]reply{failure("InternalError", "oops"), success("")},
			reboot, 1, diag.KindUnavailable},
		{"a reboot is not retried on a 5xx without a body", "RebootInstances",
			[]reply{{status: 503}, success("")},
			reboot, 1, diag.KindUnavailable},
		{"a reboot is not retried when the connection drops", "RebootInstances",
			[]reply{{hangUp: true}, success("")},
			reboot, 1, diag.KindUnavailable},
		{"a reboot is retried when throttled", "RebootInstances",
			[]reply{failure("RequestLimitExceeded.IPLimitExceeded", "slow down"), success("")},
			reboot, 2, ""},
		{"a command is not retried on an internal error", "RunCommand",
			[]reply{failure("InternalServerError", "oops"), success(`"InvocationId":"inv-12345678"`)},
			runShell, 1, diag.KindUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on(tt.action, tt.replies...)
			c := newTestClient(t, f, nil, nil)
			ctx, calls := withCallLog()

			err := tt.do(ctx, c)
			if kind := diag.KindOf(err); kind != tt.wantKind || (err == nil) != (tt.wantKind == "") {
				t.Errorf("error %v (kind %q), want kind %q", err, kind, tt.wantKind)
			}
			if n := len(f.requests()); n != tt.wantRequests {
				t.Errorf("sent %d requests, want %d", n, tt.wantRequests)
			}
			if log := calls.Calls(); len(log) != 1 || log[0].Attempts != tt.wantRequests {
				t.Errorf("call log %+v, want one call of %d attempts", log, tt.wantRequests)
			}
		})
	}
}

func findInstance(ctx context.Context, c *Client) error {
	_, err := c.FindInstances(ctx, testRegion, diag.InstanceQuery{ID: "ins-abc12345"})
	return err
}

func accountBalance(ctx context.Context, c *Client) error {
	_, err := c.AccountBalance(ctx)
	return err
}

func reboot(ctx context.Context, c *Client) error {
	_, err := c.RebootInstance(ctx, testRegion, "ins-abc12345")
	return err
}

func runShell(ctx context.Context, c *Client) error {
	_, err := c.RunCommand(ctx, testRegion, diag.Command{InstanceID: "ins-abc12345", Type: "SHELL", Script: "true"})
	return err
}

func TestFailedCallIsRecorded(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeAccountBalance", failure("UnauthorizedOperation.CamNoAuth", "no permission"))
	c := newTestClient(t, f, nil, nil)
	ctx, calls := withCallLog()

	_, err := c.AccountBalance(ctx)
	var apiErr *diag.APIError
	if !errors.As(err, &apiErr) || apiErr.RequestID != "req-err" || apiErr.Code != "UnauthorizedOperation.CamNoAuth" {
		t.Fatalf("AccountBalance: %#v, want an APIError with code and request ID", err)
	}
	want := []diag.APICall{{Service: "billing", Action: "DescribeAccountBalance", Region: testRegion,
		Attempts: 1, RequestID: "req-err", ErrorCode: "UnauthorizedOperation.CamNoAuth"}}
	if log := zeroDurations(calls.Calls()); !slices.Equal(log, want) {
		t.Errorf("call log %+v, want %+v", log, want)
	}
}

func TestContextDeadlineIsHonoured(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // Config.Timeout
		ctx     func() (context.Context, context.CancelFunc)
	}{
		{"caller's deadline", 10 * time.Second, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}},
		{"configured timeout", 100 * time.Millisecond, func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCloud(t)
			f.on("DescribeInstances", reply{block: true})
			c := newTestClient(t, f, nil, func(cfg *Config) { cfg.Timeout = tt.timeout })
			ctx, cancel := tt.ctx()
			defer cancel()

			start := time.Now()
			err := findInstance(ctx, c)
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("returned after %v", elapsed)
			}
			if !errors.Is(err, context.DeadlineExceeded) || diag.KindOf(err) != diag.KindUnavailable {
				t.Errorf("error %v, want kind unavailable wrapping context.DeadlineExceeded", err)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("sent %d requests, want 1 (no retry past the deadline)", n)
			}
		})
	}
}

func TestCancelledContextSendsNothing(t *testing.T) {
	f := newFakeCloud(t)
	c := newTestClient(t, f, nil, nil)
	ctx, calls := withCallLog()
	ctx, cancel := context.WithCancel(ctx)
	cancel()

	err := findInstance(ctx, c)
	if !errors.Is(err, context.Canceled) || diag.KindOf(err) != diag.KindUnavailable {
		t.Errorf("error %v, want kind unavailable wrapping context.Canceled", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("sent %d requests, want 0", n)
	}
	if log := calls.Calls(); len(log) != 1 || log[0].Attempts != 0 || log[0].ErrorCode == "" {
		t.Errorf("call log %+v, want one failed call of 0 attempts", log)
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	f := newFakeCloud(t)
	f.on("DescribeInstances",
		failure("AuthFailure.SignatureFailure", "The provided credentials could not be validated."),
		reply{status: 502, body: "<html>bad gateway</html>"},
		reply{hangUp: true},
		success(describeInstancesReply))
	f.on("DescribeSecurityGroupPolicies", success(fmt.Sprintf(sgPoliciesFixture, "60")))
	f.on("RebootInstances", failure("InternalError", "oops"))
	var logs bytes.Buffer
	c := newTestClient(t, f, &logs, func(cfg *Config) { cfg.MaxRetries = -1 })
	ctx := context.Background()

	var errs []error
	for range 4 {
		errs = append(errs, findInstance(ctx, c))
	}
	_, err := c.SecurityGroupPolicies(ctx, testRegion, "sg-12345678")
	errs = append(errs, err, reboot(ctx, c))

	var signatures []string
	for _, req := range f.requests() {
		m := regexp.MustCompile(`Signature=([0-9a-f]{64})`).FindStringSubmatch(req.authorization)
		if m == nil {
			t.Fatalf("Authorization %q has no signature", req.authorization)
		}
		signatures = append(signatures, m[1])
	}
	var text strings.Builder
	text.WriteString(logs.String())
	for _, err := range errs {
		if err != nil {
			text.WriteString(err.Error() + "\n")
		}
	}
	for _, secret := range append(signatures, testSecretKey, "TC3-HMAC-SHA256", "Authorization") {
		if strings.Contains(text.String(), secret) {
			t.Errorf("logs or errors contain %q:\n%s", secret, text.String())
		}
	}
	for _, want := range []string{"service=cvm", "action=DescribeInstances", "region=" + testRegion,
		"attempts=1", "request_id=req-err", "error_code=AuthFailure.SignatureFailure", "duration="} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // in the error
	}{
		{"no region", Config{SecretID: testSecretID, SecretKey: testSecretKey}, "tencentcloud.region"},
		{"bad scheme", Config{Region: testRegion, Scheme: "ftp", SecretID: testSecretID, SecretKey: testSecretKey}, "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

// withoutAmbientCredentials makes the default credential chain find nothing
// (and never reach the CVM metadata service) unless the test sets the
// TENCENTCLOUD_SECRET_* variables.
func withoutAmbientCredentials(t *testing.T) {
	t.Helper()
	for _, name := range []string{"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY", "TENCENTCLOUD_CREDENTIALS_FILE"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	t.Setenv("HOME", t.TempDir())
	saved := credentialChain
	credentialChain = func() common.Provider {
		return common.NewProviderChain([]common.Provider{common.DefaultEnvProvider(), common.DefaultProfileProvider()})
	}
	t.Cleanup(func() { credentialChain = saved })
}

func TestNewWithoutCredentials(t *testing.T) {
	withoutAmbientCredentials(t)
	_, err := New(Config{Region: testRegion, SecretKey: testSecretKey}) // a secret without its ID is not enough
	if err == nil {
		t.Fatal("New without credentials succeeded")
	}
	if strings.Contains(err.Error(), testSecretKey) {
		t.Errorf("error %q contains the secret key", err)
	}
	for _, want := range []string{"tencentcloud.secret_id", "tencentcloud.secret_key", "TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestNewUsesTheEnvironment(t *testing.T) {
	withoutAmbientCredentials(t)
	t.Setenv("TENCENTCLOUD_SECRET_ID", "AKIDfromtheenvironment")
	t.Setenv("TENCENTCLOUD_SECRET_KEY", "keyFromTheEnvironment")
	f := newFakeCloud(t)
	f.on("DescribeAccountBalance", success(`"RealBalance": 100, "OweAmount": 0`))
	c, err := New(Config{Region: testRegion, Endpoint: f.endpoint(), Scheme: "http"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := c.AccountBalance(context.Background()); err != nil {
		t.Fatalf("AccountBalance: %v", err)
	}
	if auth := f.only().authorization; !strings.Contains(auth, "Credential=AKIDfromtheenvironment/") {
		t.Errorf("Authorization %q does not use the environment's secret ID", auth)
	}
}

func TestServiceClientsAreCachedPerServiceAndRegion(t *testing.T) {
	f := newFakeCloud(t)
	c := newTestClient(t, f, nil, nil)
	regions := []string{"ap-guangzhou", "ap-shanghai"}
	var wg sync.WaitGroup
	for range 8 {
		for _, region := range regions {
			wg.Go(func() {
				if _, err := c.cvmClient(region); err != nil {
					t.Error(err)
				}
				if _, err := c.vpcClient(region); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if n := len(c.clients); n != 4 {
		t.Errorf("%d cached clients, want 4 (2 services × 2 regions)", n)
	}
	a, _ := c.cvmClient("ap-guangzhou")
	b, _ := c.cvmClient("ap-guangzhou")
	if a != b {
		t.Error("the same service and region gave two clients")
	}
}

func zeroDurations(calls []diag.APICall) []diag.APICall {
	for i := range calls {
		calls[i].DurationMS = 0
	}
	return calls
}

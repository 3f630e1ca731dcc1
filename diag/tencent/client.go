// Package tencent implements diag.Cloud and diag.FixAPI with the typed
// Tencent Cloud SDK modules (cvm, vpc, monitor, billing, tat, antiddos).
//
// A Client owns one SDK client per (service, region), created on first use and
// shared by all goroutines. Every call honours its context, waits for a slot
// of its action's budget (Config.Limiter: per account, shared by replicas;
// a diagnosis's calls wait until the diagnosis's deadline, see
// Config.Timeout), is retried with jittered exponential backoff where that
// is safe (when throttled, for as long as its deadline allows), is
// classified into a *diag.APIError when it fails, is logged at Debug level
// without bodies or secrets (with its context, so that the line carries the
// diagnosis ID), is recorded in the context's diag.CallLog, and is passed to
// Config.OnCall.
//
// Tencent Cloud API docs: https://cloud.tencent.com/document/api
package tencent

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/cvmlogin/cvmlogin/diag"
)

// The defaults New applies to a zero Config field.
const (
	DefaultScheme     = "https"
	DefaultTimeout    = 10 * time.Second
	DefaultMaxRetries = 3
	DefaultRetryBase  = 200 * time.Millisecond
	DefaultLanguage   = "en-US"
)

// Config configures a Client. Zero fields take the Default* values.
type Config struct {
	// Region is the default region, used by calls that take none
	// (billing:DescribeAccountBalance). Required.
	Region string
	// Endpoint overrides the API host of every service, e.g.
	// "127.0.0.1:9000". Empty means "<service>.tencentcloudapi.com".
	Endpoint string
	// Scheme is "https" (the default) or "http".
	Scheme string
	// SecretID and SecretKey are static credentials. When either is empty the
	// SDK's default provider chain is used: the TENCENTCLOUD_SECRET_ID and
	// TENCENTCLOUD_SECRET_KEY environment variables, then the profile file,
	// then the CVM instance role.
	SecretID, SecretKey string
	// Timeout caps every logical call, retries included. Under a diag call
	// timeout (diag.WithCallTimeout: every call of a diagnosis), it caps
	// only the call's time on the provider, like the call timeout, and the
	// waits for the budget (Limiter, RequestLimitExceeded) last until the
	// context's deadline.
	Timeout time.Duration
	// MaxRetries is how many times a failed call may be retried; negative
	// disables retries.
	MaxRetries int
	// RetryBase is the first retry's backoff; each retry doubles it.
	RetryBase time.Duration
	// Logger receives one Debug record per call. Nil means slog.Default().
	Logger *slog.Logger
	// Language is the language of provider error messages, "en-US" or "zh-CN".
	Language string
	// RateLimits overrides the budget of actions, in requests per second
	// (tencentcloud.rate_limits; see Budgets).
	RateLimits map[string]int
	// Limiter spends the account's budgets. Nil means a LocalLimiter of the
	// budgets, which only this process shares; give every replica a limiter
	// backed by one store to share them.
	Limiter Limiter
	// OnCall, if not nil, is called once per logical call, after its retries,
	// with what the call log records; metrics count calls with it. It must be
	// safe for concurrent use and return quickly.
	OnCall func(diag.APICall)
}

// Client talks to the Tencent Cloud APIs. It implements diag.Cloud and
// diag.FixAPI and is safe for concurrent use. Create it with New.
type Client struct {
	cfg       Config
	cred      common.CredentialIface
	transport http.RoundTripper
	log       *slog.Logger
	limiter   Limiter
	account   string // accountKey of the credentials, for the limiter
	cache     *replyCache
	batch     *batches

	mu      sync.Mutex
	clients map[clientKey]any // *cvm.Client, *vpc.Client, ... by service and region
}

type clientKey struct{ service, region string }

// credentialChain returns the provider chain used when Config has no static
// credentials. Tests replace it so that they never reach the CVM metadata
// service.
var credentialChain = common.DefaultProviderChain

// New returns a Client for cfg. It fails if cfg is invalid or no credentials
// can be found; the error names the configuration keys and environment
// variables to set, never a secret.
func New(cfg Config) (*Client, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	cred, err := credentials(cfg)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	limiter := cfg.Limiter
	if limiter == nil {
		budgets, err := Budgets(cfg.RateLimits)
		if err != nil {
			return nil, err
		}
		limiter = NewLocalLimiter(budgets)
	}
	c := &Client{
		cfg:       cfg,
		cred:      cred,
		transport: newTransport(),
		log:       logger,
		limiter:   limiter,
		account:   accountKey(cred.GetSecretId()),
		cache:     newReplyCache(),
		clients:   make(map[clientKey]any),
	}
	c.batch = newBatches(c)
	return c, nil
}

func withDefaults(cfg Config) (Config, error) {
	if cfg.Region == "" {
		return cfg, errors.New("tencent: no default region: set tencentcloud.region")
	}
	cfg.Scheme = strings.ToLower(cfg.Scheme)
	switch cfg.Scheme {
	case "":
		cfg.Scheme = DefaultScheme
	case "http", "https":
	default:
		return cfg, fmt.Errorf("tencent: scheme %q: want https or http", cfg.Scheme)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.Language == "" {
		cfg.Language = DefaultLanguage
	}
	return cfg, nil
}

func credentials(cfg Config) (common.CredentialIface, error) {
	if cfg.SecretID != "" && cfg.SecretKey != "" {
		return common.NewCredential(cfg.SecretID, cfg.SecretKey), nil
	}
	cred, err := credentialChain().GetCredential()
	if err != nil {
		// The chain's errors name files and variables, never secret values.
		return nil, fmt.Errorf("tencent: no Tencent Cloud credentials found: set tencentcloud.secret_id and tencentcloud.secret_key "+
			"(or TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY), a credentials profile file, or a CVM role: %w", err)
	}
	return cred, nil
}

// clientProfile is the SDK profile shared by every service client: our
// endpoint and scheme, our deadline, and no SDK retries, debug dumps or
// circuit breaker (which would redirect calls to the real cloud).
func (c *Client) clientProfile() *profile.ClientProfile {
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = c.cfg.Endpoint
	cpf.HttpProfile.Scheme = strings.ToUpper(c.cfg.Scheme)
	cpf.HttpProfile.ReqTimeout = int(math.Ceil(c.cfg.Timeout.Seconds()))
	cpf.Language = c.cfg.Language
	cpf.Debug = false
	cpf.DisableRegionBreaker = true
	cpf.NetworkFailureMaxRetries = 0
	cpf.RateLimitExceededMaxRetries = 0
	return cpf
}

// sdkClient is what every typed SDK client offers through its embedded
// common.Client.
type sdkClient interface {
	WithHttpTransport(http.RoundTripper) *common.Client
}

// serviceClient returns the cached SDK client of service in region, building
// it with newClient on first use.
func serviceClient[T sdkClient](c *Client, service, region string,
	newClient func(common.CredentialIface, string, *profile.ClientProfile) (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := clientKey{service, region}
	if cached, ok := c.clients[key]; ok {
		return cached.(T), nil
	}
	client, err := newClient(c.cred, region, c.clientProfile())
	if err != nil {
		return client, fmt.Errorf("creating the %s client for %s: %w", service, region, err)
	}
	client.WithHttpTransport(c.transport)
	c.clients[key] = client
	return client, nil
}

// Client is a whole cloud for the diagnosis and the fixes.
var (
	_ diag.Cloud  = (*Client)(nil)
	_ diag.FixAPI = (*Client)(nil)
)

// Package tencentsim is a wire-compatible simulator of the Tencent Cloud APIs
// that cvmlogin calls, for tests, benchmarks, "cvmlogin simulate" and
// --simulate.
//
// A Sim answers POST requests on one loopback endpoint for every service
// (cvm, vpc, monitor, billing, tat, antiddos), telling services apart by the
// credential scope of the TC3-HMAC-SHA256 signature, which it verifies as
// Tencent Cloud does. Its instances come from scenarios (see Scenario and
// Builtin); fix actions change their state realistically (a reboot takes
// time, opening a port in a security group makes it reachable). Faults,
// latency and Tencent's per-action rate limits (RateLimit, off by default)
// can be injected per action, every call is recorded, and Dialer
// maps the instances' simulated public IPs to loopback connections for the
// port probe. It never sends traffic anywhere but 127.0.0.0/8.
//
// The simulator is an independent witness of the code it tests: it imports
// nothing from diag, speaks only the wire formats (the Tencent JSON, and for
// TAT the text the real guest scripts print), and decides whether a
// security group lets the probe in by its own reading of Tencent's
// documented rule semantics (ProbeAccepts).
package tencentsim

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Options configure a Sim. The zero value gives the built-in scenarios, the
// test credentials and the real clock.
type Options struct {
	// Scenarios are the simulated instances; nil means Builtin(). New panics
	// if they are invalid: load files with LoadScenarios, which reports why.
	Scenarios []Scenario
	// Credentials maps SecretId to SecretKey; nil means
	// {TestSecretID: TestSecretKey}.
	Credentials map[string]string
	// Now is the clock, for signatures, metrics and state transitions; nil
	// means time.Now.
	Now func() time.Time
	// Latency is added to every API call.
	Latency time.Duration
	// RateLimits cap the requests per second actions accept (RateLimit);
	// nil means no limit, unlike Tencent Cloud.
	RateLimits []RateLimit
	// RebootDuration is how long RebootInstances, StartInstances and
	// StopInstances take; zero means 2s.
	RebootDuration time.Duration
	// Logger receives a debug line per call; nil discards.
	Logger *slog.Logger
}

const (
	defaultRebootDuration = 2 * time.Second
	maxBodyBytes          = 10 << 20
	// defaultBalance is the account's balance in cents: 10,000.00 CNY.
	defaultBalance = 1_000_000
)

// Sim is a simulated Tencent Cloud. It is safe for concurrent use.
type Sim struct {
	secrets        map[string]string
	now            func() time.Time
	rebootDuration time.Duration
	log            *slog.Logger

	mu        sync.Mutex
	instances []*instance // in scenario order
	groups    map[string]*group
	templates []storedTemplate
	// focus is the instance DescribeInstances last returned alone: the one
	// being diagnosed, whose Account (if any) DescribeAccountBalance answers.
	focus         *instance
	invocations   []*invocation
	account       account
	latency       time.Duration
	actionLatency map[actionKey]time.Duration
	faults        map[actionKey]string
	faultsOnce    map[actionKey]string
	limits        rateLimits
	calls         []Call
	server        *http.Server
	probeTarget   net.Listener // where the Dialer connects open ports

	closed    chan struct{}
	closeOnce sync.Once
}

// actionKey names an action of a service.
type actionKey struct{ service, action string }

// account is the billing account, in cents.
type account struct{ realBalance, oweAmount, creditAmount float64 }

// New returns a Sim serving opts.Scenarios. Call Start to listen, or use
// Handler; call Close when done.
func New(opts Options) *Sim {
	s := &Sim{
		secrets:        opts.Credentials,
		now:            opts.Now,
		rebootDuration: opts.RebootDuration,
		log:            opts.Logger,
		groups:         map[string]*group{},
		account:        account{realBalance: defaultBalance},
		latency:        opts.Latency,
		actionLatency:  map[actionKey]time.Duration{},
		faults:         map[actionKey]string{},
		faultsOnce:     map[actionKey]string{},
		closed:         make(chan struct{}),
	}
	if s.secrets == nil {
		s.secrets = map[string]string{TestSecretID: TestSecretKey}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rebootDuration <= 0 {
		s.rebootDuration = defaultRebootDuration
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, l := range opts.RateLimits {
		s.limits.set(l)
	}
	scenarios := opts.Scenarios
	if scenarios == nil {
		scenarios = Builtin()
	}
	for _, sc := range scenarios {
		if err := s.AddScenario(sc); err != nil {
			panic("tencentsim.New: " + err.Error())
		}
	}
	return s
}

// Start listens on addr ("" means 127.0.0.1:0) and serves the API there. It
// refuses addresses that are not loopback. It returns the endpoint,
// host:port, to give the SDK (with scheme HTTP).
func (s *Sim) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := requireLoopback(addr); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return "", errors.New("tencentsim: closed")
	default:
	}
	if s.server != nil {
		return "", errors.New("tencentsim: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("tencentsim: listening on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.server = srv
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("tencentsim: serving stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

func requireLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("tencentsim: listen address %q: %w", addr, err)
	}
	if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
		return fmt.Errorf("tencentsim: refusing to listen on %q: only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed", addr)
	}
	return nil
}

// Close stops serving, closes the Dialer's listener and makes pending Dialer
// calls return. It is safe to call more than once.
func (s *Sim) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.server != nil {
		if err := s.server.Close(); err != nil {
			s.log.Warn("tencentsim: closing the server", "err", err)
		}
	}
	if s.probeTarget != nil {
		if err := s.probeTarget.Close(); err != nil {
			s.log.Warn("tencentsim: closing the probe listener", "err", err)
		}
	}
}

// Handler returns the API handler: POST with any path, as the SDK sends.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// request is one API call being answered.
type request struct {
	service, action, region string
	body                    []byte
	requestID               string
	received                time.Time
	now                     time.Time // the clock when the handler runs
}

// handler answers one action. It runs with Sim.mu held. It returns the
// response fields (without RequestId) or an error, an *apiError for the
// envelope.
type handler func(s *Sim, req *request) (any, error)

// service is a simulated product: its API version and actions.
type service struct {
	version  string
	regional bool // X-TC-Region is required
	actions  map[string]handler
}

// services is every simulated product, by the credential scope's service.
var services = map[string]service{
	"cvm": {version: "2017-03-12", regional: true, actions: map[string]handler{
		"DescribeInstances":      (*Sim).describeInstances,
		"DescribeImages":         (*Sim).describeImages,
		"RebootInstances":        (*Sim).rebootInstances,
		"StartInstances":         (*Sim).startInstances,
		"StopInstances":          (*Sim).stopInstances,
		"DescribeInstanceVncUrl": (*Sim).describeInstanceVncURL,
	}},
	"vpc": {version: "2017-03-12", regional: true, actions: map[string]handler{
		"DescribeAddresses":             (*Sim).describeAddresses,
		"DescribeSecurityGroupPolicies": (*Sim).describeSecurityGroupPolicies,
		"CreateSecurityGroupPolicies":   (*Sim).createSecurityGroupPolicies,
		"DeleteSecurityGroupPolicies":   (*Sim).deleteSecurityGroupPolicies,
		"DescribeAddressTemplates":      (*Sim).describeAddressTemplates,
		"DescribeAddressTemplateGroups": (*Sim).describeAddressTemplateGroups,
		"DescribeServiceTemplates":      (*Sim).describeServiceTemplates,
		"DescribeServiceTemplateGroups": (*Sim).describeServiceTemplateGroups,
	}},
	"monitor":  {version: "2018-07-24", regional: true, actions: map[string]handler{"GetMonitorData": (*Sim).getMonitorData}},
	"billing":  {version: "2018-07-09", actions: map[string]handler{"DescribeAccountBalance": (*Sim).describeAccountBalance}},
	"antiddos": {version: "2020-03-09", actions: map[string]handler{"DescribeBasicDeviceStatus": (*Sim).describeBasicDeviceStatus}},
	"tat": {version: "2020-10-28", regional: true, actions: map[string]handler{
		"DescribeAutomationAgentStatus": (*Sim).describeAutomationAgentStatus,
		"RunCommand":                    (*Sim).runCommand,
		"DescribeInvocationTasks":       (*Sim).describeInvocationTasks,
	}},
}

func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{
		action:    r.Header.Get("X-TC-Action"),
		region:    r.Header.Get("X-TC-Region"),
		requestID: newRequestID(),
		received:  s.now(),
	}
	result, err := s.process(w, r, req)
	s.record(req, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return // the client is gone
	}
	writeEnvelope(w, req.requestID, result, err)
}

// process authenticates, routes, delays and answers a request.
func (s *Sim) process(w http.ResponseWriter, r *http.Request, req *request) (any, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return nil, apiErrorf("RequestSizeLimitExceeded", "the request body could not be read or exceeds %d bytes", maxBodyBytes)
	}
	req.body = body
	h, refused := s.accept(r, req)
	if err := s.delay(r.Context(), req); err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	if len(req.body) == 0 {
		req.body = []byte("{}")
	}
	return s.handle(h, req)
}

// accept authenticates and routes a request, and counts it against its
// action's rate limit, as it arrives: the injected latency is the time
// the API takes to answer.
func (s *Sim) accept(r *http.Request, req *request) (handler, error) {
	auth, err := parseAuthorization(r.Header.Get("Authorization"))
	req.service = auth.service
	if err != nil {
		return nil, err
	}
	if r.Method != http.MethodPost {
		return nil, apiErrorf(codeUnsupportedOperation, "the simulator accepts only POST requests, not %s", r.Method)
	}
	if err := verifySignature(r, auth, req.body, s.secrets, s.now()); err != nil {
		return nil, err
	}
	h, err := route(req, r.Header.Get("X-TC-Version"))
	if err != nil {
		return nil, err
	}
	return h, s.spendRateLimit(req)
}

// route finds the handler of a request's service and action.
func route(req *request, version string) (handler, error) {
	svc, ok := services[req.service]
	switch {
	case !ok:
		return nil, apiErrorf("NoSuchProduct", "the service %q is not simulated", req.service)
	case req.action == "":
		return nil, apiErrorf(codeMissingParameter, "the X-TC-Action header is missing")
	}
	h, ok := svc.actions[req.action]
	switch {
	case !ok:
		return nil, apiErrorf("InvalidAction", "the action %s.%s does not exist", req.service, req.action)
	case version != svc.version:
		return nil, apiErrorf("NoSuchVersion", "the API version %q does not exist for %s; use %s", version, req.service, svc.version)
	case svc.regional && req.region == "":
		return nil, apiErrorf(codeMissingParameter, "the X-TC-Region header is required by %s", req.service)
	}
	return h, nil
}

// handle runs a handler on settled state, unless a fault is injected.
func (s *Sim) handle(h handler, req *request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req.now = s.settleLocked()
	if code := s.takeFaultLocked(req.service, req.action); code != "" {
		return nil, apiErrorf(code, "injected fault for %s.%s", req.service, req.action)
	}
	return h(s, req)
}

// settleLocked completes due operations and returns the time it did so at.
func (s *Sim) settleLocked() time.Time {
	now := s.now()
	for _, in := range s.instances {
		in.settle(now)
	}
	return now
}

// delay waits for the injected latency, or until ctx is done.
func (s *Sim) delay(ctx context.Context, req *request) error {
	s.mu.Lock()
	d := s.latency + s.actionLatency[actionKey{req.service, req.action}]
	s.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for injected latency: %w", ctx.Err())
	}
}

func (s *Sim) record(req *request, err error) {
	c := Call{Service: req.service, Action: req.action, Region: req.region, Time: req.received, RequestID: req.requestID}
	if json.Valid(req.body) {
		c.Body = json.RawMessage(req.body)
	}
	var apiErr *apiError
	switch {
	case errors.As(err, &apiErr):
		c.ErrorCode = apiErr.Code
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		c.ErrorCode = codeClientCanceled
	case err != nil:
		c.ErrorCode = codeInternalError
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	s.log.Debug("tencent API call", "service", c.Service, "action", c.Action, "region", c.Region,
		"request_id", c.RequestID, "error_code", c.ErrorCode)
}

// writeEnvelope answers {"Response": {...fields, "RequestId": id}}, or the
// error envelope, always with HTTP 200 as Tencent Cloud does.
func writeEnvelope(w http.ResponseWriter, requestID string, result any, err error) {
	fields := map[string]any{"RequestId": requestID}
	var apiErr *apiError
	switch {
	case errors.As(err, &apiErr):
		fields["Error"] = apiErr
	case err != nil:
		fields["Error"] = apiErrorf(codeInternalError, "the simulator failed: %v", err)
	default:
		if encodeErr := mergeFields(fields, result); encodeErr != nil {
			fields = map[string]any{"RequestId": requestID, "Error": apiErrorf(codeInternalError, "encoding the response: %v", encodeErr)}
		}
	}
	body, _ := json.Marshal(map[string]any{"Response": fields}) // maps of encodable values cannot fail
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// mergeFields adds the JSON fields of result to fields.
func mergeFields(fields map[string]any, result any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for k, v := range raw {
		fields[k] = v
	}
	return nil
}

// newRequestID returns a random UUID, the RequestId format.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// newID returns prefix and 8 random lowercase letters or digits, the shape of
// Tencent resource IDs (cmd-, inv-, invt-).
func newID(prefix string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [8]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b[:])
}

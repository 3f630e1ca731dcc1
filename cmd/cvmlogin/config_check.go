package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slack-go/slack"
	"github.com/spf13/cobra"

	"github.com/cvmlogin/cvmlogin/configs"
	"github.com/cvmlogin/cvmlogin/conversations"
	"github.com/cvmlogin/cvmlogin/diag"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect the configuration",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newConfigCheckCmd(g))
	return cmd
}

func newConfigCheckCmd(g *globals) *cobra.Command {
	var (
		online bool
		sim    simulateOptions
	)
	cmd := &cobra.Command{
		Use:   "check [--online]",
		Short: "Print the effective configuration, secrets redacted, and every problem with it",
		Long: "Prints the configuration as loaded (defaults < --config file < environment < flags), secrets\n" +
			"redacted, then every problem, one line each naming the key. --online also asks Slack (auth.test\n" +
			"and the token's scopes), Redis (PING) and Tencent Cloud (every action the configured features\n" +
			"call, each with arguments that match nothing, so that nothing changes) whether the credentials\n" +
			"and permissions work, and names each action denied.\n" +
			"Exit codes: 0 all good, 1 an online check failed, 2 the configuration has a critical problem.",
		Example: "  cvmlogin config check --config cvmlogin.yaml\n  cvmlogin config check --online",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := configs.Load(configs.LoadOptions{File: g.configFile, Environ: os.Environ(), Flags: cmd.Flags(),
				FlagKeys: map[string]string{"log-level": "log.level"}})
			if err != nil {
				return usageError("loading configuration: %w", err)
			}
			critical, err := printConfig(g.stdout, cfg)
			if err != nil {
				return err
			}
			failed := false
			if online {
				failed = printOnlineChecks(cmd.Context(), g, cfg, sim)
			}
			switch {
			case critical:
				return &exitError{code: exitUsage, err: errors.New("the configuration has critical problems (above)")}
			case failed:
				return &exitError{code: exitFailed, err: errors.New("an online check failed (above)")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&online, "online", false, "also check the Slack, Redis and Tencent Cloud credentials and permissions")
	f.BoolVar(&sim.enabled, "simulate", false, "with --online: check against the built-in Tencent Cloud simulator instead of the real API")
	addFaultFlag(cmd, &sim.faults)
	return cmd
}

// printConfig prints the redacted configuration and its problems (as if for
// serve), and reports whether any is critical.
func printConfig(w io.Writer, cfg *configs.Config) (critical bool, err error) {
	doc, err := cfg.YAML()
	if err != nil {
		return false, &exitError{code: exitCouldNot, err: err}
	}
	fmt.Fprintf(w, "# Effective configuration, secrets redacted\n%s\n", doc)
	problems := cfg.ValidateFor(configs.ForServe)
	if len(problems) == 0 {
		fmt.Fprintln(w, "Configuration: no problems found.")
		return false, nil
	}
	fmt.Fprintln(w, "Configuration problems:")
	for _, p := range problems {
		fmt.Fprintf(w, "  %-8s  %s\n", p.Severity, p)
	}
	return configs.HasCritical(problems), nil
}

// checkLevel is the outcome of one online check.
type checkLevel int

const (
	checkPassed checkLevel = iota
	checkNoted             // worth knowing, not a failure
	checkFailed
)

// mark is how a line of the given level starts.
func (l checkLevel) mark() string {
	switch l {
	case checkPassed:
		return "ok"
	case checkNoted:
		return "note"
	}
	return "FAIL"
}

// checkResult is one line of the online checks.
type checkResult struct {
	level checkLevel
	text  string
}

func passed(format string, args ...any) checkResult {
	return checkResult{checkPassed, fmt.Sprintf(format, args...)}
}

func noted(format string, args ...any) checkResult {
	return checkResult{checkNoted, fmt.Sprintf(format, args...)}
}

func failed(format string, args ...any) checkResult {
	return checkResult{checkFailed, fmt.Sprintf(format, args...)}
}

// printOnlineChecks checks Slack, Redis and Tencent Cloud in turn, printing
// each result as it comes, and reports whether any check failed.
func printOnlineChecks(ctx context.Context, g *globals, cfg *configs.Config, sim simulateOptions) (anyFailed bool) {
	fmt.Fprintln(g.stdout, "\nOnline checks:")
	show := func(results ...checkResult) {
		for _, r := range results {
			fmt.Fprintf(g.stdout, "  %-4s  %s\n", r.level.mark(), r.text)
			anyFailed = anyFailed || r.level == checkFailed
		}
	}
	show(checkSlack(ctx, cfg, newSlackClient(cfg))...)
	show(checkRedis(ctx, cfg))
	show(checkTencentConfig(ctx, cfg, sim, g)...)
	return anyFailed
}

// slackCheckTimeout bounds each Slack call of the online checks.
const slackCheckTimeout = 10 * time.Second

// checkSlack proves the bot token with auth.test, compares the scopes it was
// granted with those the app manifest asks for, and in Socket Mode proves
// the app token with apps.connections.open (which only hands out a
// WebSocket URL, not connected to).
func checkSlack(ctx context.Context, cfg *configs.Config, api *slack.Client) []checkResult {
	if cfg.Slack.BotToken == "" {
		return []checkResult{failed("slack: not checked: slack.bot_token is empty; set it, or %s, to the app's Bot User OAuth Token (xoxb-…)",
			configs.EnvName("slack.bot_token"))}
	}
	authCtx, cancel := context.WithTimeout(ctx, slackCheckTimeout)
	defer cancel()
	auth, err := api.AuthTestContext(authCtx)
	if err != nil {
		return []checkResult{slackFailure("auth.test", "slack.bot_token", err)}
	}
	results := []checkResult{passed("slack: auth.test: team %s (%s), bot user %s (%s)", auth.Team, auth.TeamID, auth.User, auth.UserID)}
	results = append(results, checkScopes(auth.Header.Get("X-OAuth-Scopes"))...)
	if cfg.Slack.Mode == "socket" {
		results = append(results, checkAppToken(ctx, cfg, api))
	}
	return results
}

// slackFailure explains a failed Slack call authenticated with the token
// configured at key: Slack refused it, or could not be reached.
func slackFailure(method, key string, err error) checkResult {
	var refused slack.SlackErrorResponse
	if errors.As(err, &refused) {
		return failed("slack: %s refused %s (%s): set a valid token in %s or %s", method, key, refused.Err, key, configs.EnvName(key))
	}
	return failed("slack: %s failed, Slack unreachable? (%v): check the network, and slack.api_url if set", method, err)
}

// checkScopes compares the scopes listed by auth.test's X-OAuth-Scopes
// header with configs.RequiredBotScopes.
func checkScopes(header string) []checkResult {
	if strings.TrimSpace(header) == "" {
		return []checkResult{noted("slack: auth.test did not list the token's scopes (no X-OAuth-Scopes header), so they were not checked")}
	}
	var granted []string
	for scope := range strings.SplitSeq(header, ",") {
		if scope = strings.TrimSpace(scope); scope != "" {
			granted = append(granted, scope)
		}
	}
	required := configs.RequiredBotScopes()
	missing := slices.DeleteFunc(slices.Clone(required), func(s string) bool { return slices.Contains(granted, s) })
	unused := slices.DeleteFunc(slices.Sorted(slices.Values(granted)), func(s string) bool { return slices.Contains(required, s) })
	var results []checkResult
	if len(missing) > 0 {
		results = append(results, failed("slack: the bot token lacks the scopes %s: add them to the app as in configs/slack-app-manifest.yaml, then reinstall it",
			strings.Join(missing, ", ")))
	} else {
		results = append(results, passed("slack: the bot token has every scope cvmlogin needs (%s)", strings.Join(required, ", ")))
	}
	if len(unused) > 0 {
		results = append(results, noted("slack: the bot token also has scopes cvmlogin does not use (%s): remove them for least privilege", strings.Join(unused, ", ")))
	}
	return results
}

// checkAppToken proves Socket Mode's app-level token.
func checkAppToken(ctx context.Context, cfg *configs.Config, api *slack.Client) checkResult {
	if cfg.Slack.AppToken == "" {
		return failed("slack: Socket Mode not checked: slack.app_token is empty; set it, or %s, to an App-Level Token (xapp-…) with connections:write",
			configs.EnvName("slack.app_token"))
	}
	ctx, cancel := context.WithTimeout(ctx, slackCheckTimeout)
	defer cancel()
	if _, _, err := api.StartSocketModeContext(ctx); err != nil {
		return slackFailure("apps.connections.open", "slack.app_token", err)
	}
	return passed("slack: apps.connections.open: the app token can open Socket Mode connections")
}

// checkRedis pings the configured Redis.
func checkRedis(ctx context.Context, cfg *configs.Config) checkResult {
	rdb, where, err := redisClient(cfg)
	if err != nil {
		return failed("redis: %v", err)
	}
	defer rdb.Close()
	err = pingStore(ctx, conversations.New(rdb, storeOptions(cfg)))
	switch {
	case err == nil:
		return passed("redis: PING answered at %s", where)
	case redis.HasErrorPrefix(err, "NOAUTH"), redis.HasErrorPrefix(err, "WRONGPASS"):
		return failed("redis at %s refused the credentials (%v): check redis.password or %s", where, err, configs.EnvName("redis.password"))
	}
	return failed("redis unreachable at %s: %v: check redis.addr or %s", where, err, configs.EnvName("redis.addr"))
}

// checkTencentConfig connects to Tencent Cloud as configured (or to the
// simulator) and checks every action the configured features call.
func checkTencentConfig(ctx context.Context, cfg *configs.Config, sim simulateOptions, g *globals) []checkResult {
	b, err := newBackend(cfg, sim, newLogger(cfg, g.stderr), nil, nil)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			err = ee.err
		}
		return []checkResult{failed("tencent: %v", err)}
	}
	defer b.Close()
	results := checkTencent(ctx, b.client, cfg.TencentCloud.Region, probesFor(cfg))
	if !fixesConfigured(cfg) {
		results = append(results, noted("tencent: fix actions not checked: nobody can approve fixes (approvals.approvers and approvals.approver_groups are empty)"))
	}
	return results
}

// Arguments of the Tencent Cloud probes that match nothing: well-formed IDs
// no account has (resource IDs carry 8 random characters), and an address
// reserved for documentation (RFC 5737).
const (
	probeInstanceID   = "ins-00000000"
	probeGroupID      = "sg-00000000"
	probeInvocationID = "inv-00000000"
	probeImageID      = "img-00000000"
	probeIP           = "192.0.2.1"
)

// probeCloud is what the probes call: the reads and the fix actions.
type probeCloud interface {
	diag.Cloud
	diag.FixAPI
	diag.VNCAPI
}

// The CAM policy files that grant each group of actions.
const (
	policyDiagnose = "configs/cam-policy-diagnose.json"
	policyGuest    = "configs/cam-policy-guest.json"
	policyFix      = "configs/cam-policy-fix.json"
)

// tencentProbe is one call proving a permission without changing anything.
type tencentProbe struct {
	api    string // "service:Action", as in the CAM policy
	policy string // the policy file that grants it
	call   func(ctx context.Context, cloud probeCloud, region string) error
}

// diagnoseProbes read what every diagnosis reads. The first one is made
// alone: it tells whether the API can be reached and the credentials work at
// all.
var diagnoseProbes = []tencentProbe{
	{"cvm:DescribeInstances", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.FindInstances(ctx, region, diag.InstanceQuery{ID: probeInstanceID})
		return err
	}},
	{"cvm:DescribeImages", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.ImagePlatform(ctx, region, probeImageID)
		return err
	}},
	{"vpc:DescribeAddresses", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.Addresses(ctx, region, []string{probeIP})
		return err
	}},
	{"vpc:DescribeSecurityGroupPolicies", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.SecurityGroupPolicies(ctx, region, probeGroupID)
		return err
	}},
	{"monitor:GetMonitorData", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		end := time.Now()
		_, err := cloud.MetricData(ctx, region, diag.MetricQuery{Metric: "CPUUsage", InstanceID: probeInstanceID,
			Period: time.Minute, Start: end.Add(-5 * time.Minute), End: end})
		return err
	}},
	{"billing:DescribeAccountBalance", policyDiagnose, func(ctx context.Context, cloud probeCloud, _ string) error {
		_, err := cloud.AccountBalance(ctx)
		return err
	}},
	{"antiddos:DescribeBasicDeviceStatus", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.BasicDeviceStatus(ctx, region, []string{probeIP})
		return err
	}},
	{"vpc:DescribeAddressTemplates", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.AddressTemplates(ctx, region, []string{"ipm-00000000"})
		return err
	}},
	{"vpc:DescribeAddressTemplateGroups", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.AddressTemplateGroups(ctx, region, []string{"ipmg-00000000"})
		return err
	}},
	{"vpc:DescribeServiceTemplates", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.ServiceTemplates(ctx, region, []string{"ppm-00000000"})
		return err
	}},
	{"vpc:DescribeServiceTemplateGroups", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.ServiceTemplateGroups(ctx, region, []string{"ppmg-00000000"})
		return err
	}},
	// The VNC console of an instance that does not exist: no link is made.
	{"cvm:DescribeInstanceVncUrl", policyDiagnose, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.InstanceVNCURL(ctx, region, probeInstanceID)
		return err
	}},
}

// guestProbes are the TAT actions of the in-guest checks
// (diagnosis.guest_checks).
var guestProbes = []tencentProbe{
	{"tat:DescribeAutomationAgentStatus", policyGuest, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.AgentStatus(ctx, region, probeInstanceID)
		return err
	}},
	// An instance that does not exist: nothing runs anywhere (and "true"
	// would do nothing if it did).
	{"tat:RunCommand", policyGuest, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.RunCommand(ctx, region, diag.Command{InstanceID: probeInstanceID, Type: "SHELL", Script: "true",
			Timeout: time.Minute, Name: "cvmlogin-permission-probe"})
		return err
	}},
	{"tat:DescribeInvocationTasks", policyGuest, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.InvocationTasks(ctx, region, probeInvocationID)
		return err
	}},
}

// fixProbes are the fix actions (when someone can approve fixes). Each acts
// on a resource that does not exist, so Tencent Cloud refuses it after
// authorising it, and nothing changes. The rule and the policy version are
// harmless and stale on top: a DROP of one documentation address, and a
// version no group has.
//
// Order of the checks: Tencent Cloud signs, then authorises with CAM, then
// the product validates the arguments. The public error reference keeps the
// CAM refusals apart from the product's own ("4101 unauthorized API", "4102
// unauthorized resource", "4103 unauthorized resource of this API" against
// "4000 invalid parameter", "5000 resource does not exist":
// cloud.tencent.com/doc/api/309/7025; in API 3.0 the codes are
// UnauthorizedOperation / AuthFailure.UnauthorizedOperation against
// InvalidParameter*, InvalidInstanceId.* and ResourceNotFound*). A refusal
// by CAM is reported as denied; any refusal of the arguments or of the
// missing resource means the call was authorised. I found no page stating
// the order outright: a product that validated first would make a denied
// action look allowed here, never the reverse. With a tag-scoped policy
// (cam-policy-fix-tagged.json) the probe's resource carries no tag, so these
// actions are reported denied although tagged instances are allowed.
var fixProbes = []tencentProbe{
	{"cvm:RebootInstances", policyFix, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.RebootInstance(ctx, region, probeInstanceID)
		return err
	}},
	{"cvm:StartInstances", policyFix, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.StartInstance(ctx, region, probeInstanceID)
		return err
	}},
	{"vpc:CreateSecurityGroupPolicies", policyFix, func(ctx context.Context, cloud probeCloud, region string) error {
		rule := diag.SecurityGroupPolicy{Protocol: "TCP", Port: "1", CidrBlock: probeIP + "/32", Action: "DROP", Description: "cvmlogin permission probe"}
		_, err := cloud.CreateIngressPolicies(ctx, region, probeGroupID, probeVersion, []diag.SecurityGroupPolicy{rule})
		return err
	}},
	{"vpc:DeleteSecurityGroupPolicies", policyFix, func(ctx context.Context, cloud probeCloud, region string) error {
		_, err := cloud.DeleteIngressPolicies(ctx, region, probeGroupID, probeVersion, []int{probeIndex})
		return err
	}},
}

// probeVersion and probeIndex are a security-group policy version and index
// that no group has.
const (
	probeVersion = "999999999"
	probeIndex   = 999
)

// probesFor returns the probes of every action the configured features
// call: the diagnosis reads, the in-guest checks' TAT actions when
// diagnosis.guest_checks is on, the fix actions when someone can approve.
func probesFor(cfg *configs.Config) []tencentProbe {
	probes := slices.Clone(diagnoseProbes)
	if cfg.Diagnosis.GuestChecks {
		probes = append(probes, guestProbes...)
	}
	if fixesConfigured(cfg) {
		probes = append(probes, fixProbes...)
	}
	return probes
}

// fixesConfigured reports whether anyone can approve a fix.
func fixesConfigured(cfg *configs.Config) bool {
	return len(cfg.Approvals.Approvers) > 0 || len(cfg.Approvals.ApproverGroups) > 0
}

// checkTencent makes every probe against cloud in region and explains each
// outcome. When the first probe finds the API unreachable or the
// credentials rejected, that one line says it all and the others are not
// made.
func checkTencent(ctx context.Context, cloud probeCloud, region string, probes []tencentProbe) []checkResult {
	first := probes[0]
	err := first.call(ctx, cloud, region)
	if kind := diag.KindOf(err); kind == diag.KindAuth || kind == diag.KindUnavailable {
		return []checkResult{tencentResult(first, err)}
	}
	results := make([]checkResult, len(probes))
	results[0] = tencentResult(first, err)
	var wg sync.WaitGroup
	for i, p := range probes[1:] {
		wg.Go(func() { results[i+1] = tencentResult(p, p.call(ctx, cloud, region)) })
	}
	wg.Wait()
	return results
}

// tencentResult explains the outcome of probe p. A probe refused for its
// arguments (not found, an invalid parameter value) was authorised, which is
// all it is meant to prove.
func tencentResult(p tencentProbe, err error) checkResult {
	if err == nil {
		return passed("tencent: %s allowed", p.api)
	}
	var e *diag.APIError
	if !errors.As(err, &e) {
		return failed("tencent: %s failed: %v", p.api, err)
	}
	switch {
	case e.Kind == diag.KindPermission:
		return failed("tencent: %s denied (%s): grant it, see %s", p.api, e.Code, p.policy)
	case e.Kind == diag.KindAuth:
		return failed("tencent: credentials rejected (%s): check tencentcloud.secret_id and tencentcloud.secret_key (or TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY), and the clock", e.Code)
	case e.Kind == diag.KindUnavailable:
		return failed("tencent: API unreachable (%s: %s): check the network, and tencentcloud.endpoint if set", p.api, unreachableCause(e))
	case argumentsRefused(e):
		return passed("tencent: %s allowed", p.api)
	}
	return failed("tencent: %s failed: %v", p.api, e)
}

// argumentsRefused reports whether e refuses a probe's arguments or missing
// resource, which Tencent Cloud checks only after authorising the call.
func argumentsRefused(e *diag.APIError) bool {
	if e.Kind == diag.KindNotFound || e.Kind == diag.KindConflict {
		return true
	}
	for _, prefix := range []string{"InvalidParameter", "InvalidInstanceId", "InvalidInvocationId", "InvalidImageId",
		"MissingParameter", "UnsupportedOperation"} {
		if strings.HasPrefix(e.Code, prefix) {
			return true
		}
	}
	return false
}

// unreachableCause says why a call got no answer: the network error, such
// as "dial tcp 127.0.0.1:9000: connect: connection refused", when there is
// one, rather than the SDK's "Fail to get response".
func unreachableCause(e *diag.APIError) string {
	var netErr *net.OpError
	if errors.As(e, &netErr) {
		return netErr.Error()
	}
	return e.Message
}

package diag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// run is the state of one diagnosis: the resolved instance and the shared,
// lazily fetched facts that several checks read.
type run struct {
	d      *Diagnoser
	ctx    context.Context
	req    Request
	region string
	emit   func(Finding)

	inst  *Instance
	os    string
	osErr error // the image lookup behind os failed: os is a guess
	port  int

	balance   *lazy[AccountBalance]
	addrs     *lazy[[]Address]
	ddos      *lazy[map[string]string]
	policies  *lazy[[]SecurityGroupPolicies]
	templates *lazy[Templates]
	agent     *lazy[Agent]
	guest     *lazy[GuestFacts]
	details   *lazy[LoginDetails]
	loginUser string // the image's login user, "" when unknown or Windows
	metricMu  sync.Mutex
	metrics   map[string]*lazy[MetricSeries]
}

// fetch runs an API read under the diagnosis's context (its deadline, and
// CheckTimeout for each call), detached from any single check so that the
// checks sharing it are not cut short by the first.
func fetch[T any](r *run, call func(ctx context.Context) (T, error)) *lazy[T] {
	return newLazy(func() (T, error) { return call(r.ctx) })
}

// resolve looks the target up, in the request's region and then in the other
// configured regions, and returns the instance.found finding.
func (r *run) resolve() (Finding, error) {
	q := r.req.Target.Query()
	found, err := r.lookup(r.region, q)
	searched := []string{r.region}
	if err == nil && len(found) == 0 {
		var hits map[string][]Instance
		hits, searched, err = r.searchOtherRegions(q, searched)
		for region, insts := range hits {
			r.region = region
			found = append(found, insts...)
		}
		if len(hits) > 1 {
			r.region = ""
		}
	}
	evidence := map[string]any{"query": string(r.req.Target.Kind) + " " + r.req.Target.Raw, "regions_searched": searched}
	f := Finding{Check: CheckInstanceFound, Evidence: evidence, Severity: SeverityCritical}
	switch {
	case err != nil:
		f.Status, f.Title, f.DocURL = StatusUnknown, "Could not look the instance up", DocLinuxLogin
		f.Detail = err.Error()
		f.Remediation = remedyForAPIError(err)
		return f.normalized(), fmt.Errorf("%w: looking up %s: %w", ErrCouldNotRun, r.req.Target.Raw, err)
	case len(found) == 0:
		f.Status, f.Title = StatusFail, fmt.Sprintf("No instance %s in %s", r.req.Target.Raw, strings.Join(searched, ", "))
		f.Detail = fmt.Sprintf("DescribeInstances found no instance with the %s %q in %s.", r.req.Target.Kind.Describe(), r.req.Target.Raw, strings.Join(searched, ", "))
		f.Remediation = notFoundRemedy(r.req.Target)
		f.DocURL = DocLinuxLogin
		return f.normalized(), nil
	case len(found) > 1:
		f.Status, f.Title = StatusFail, fmt.Sprintf("%d instances match %q", len(found), r.req.Target.Raw)
		var names []string
		for _, in := range found {
			names = append(names, fmt.Sprintf("%s (%s, %s)", in.ID, in.Name, orDash(firstOf(in.PublicIPs))))
		}
		f.Detail = "Candidates: " + strings.Join(names, "; ")
		f.Remediation, f.DocURL = "Diagnose one of them by instance ID.", DocLinuxLogin
		evidence["candidates"] = names
		return f.normalized(), nil
	case !r.d.opts.AllowedTags.Allows(found[0]):
		f.Status, f.Title = StatusFail, fmt.Sprintf("%s is outside cvmlogin's allowed instances", found[0].ID)
		f.Detail = r.d.opts.AllowedTags.refusal(found[0])
		f.Remediation = "Tag the instance with one of the allowed tags, or ask whoever runs cvmlogin to allow it."
		return f.normalized(), nil
	}
	r.setInstance(found[0])
	f.Status, f.Severity, f.DocURL = StatusOK, SeverityInfo, loginDoc(r.os)
	f.Title = fmt.Sprintf("Found %s (%s) in %s", r.inst.ID, orDash(r.inst.Name), r.region)
	f.Detail = fmt.Sprintf("%s, %s, login port %d", r.inst.State, orDash(r.inst.OSName), r.port)
	if r.osErr != nil {
		f.Detail += fmt.Sprintf(" (OsName is empty and the image lookup failed, so %s is a guess: %v)", r.os, r.osErr)
		evidence["os_guessed"] = true
	}
	return f.normalized(), nil
}

// lookup finds instances in one region; "not found" errors count as no match.
func (r *run) lookup(region string, q InstanceQuery) ([]Instance, error) {
	found, err := r.d.cloud.FindInstances(r.ctx, region, q)
	if KindOf(err) == KindNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if q.Name != "" {
		found = preferExactName(found, q.Name)
	}
	return found, nil
}

// preferExactName keeps the instances named exactly name, if there are any:
// the name filter may match fuzzily.
func preferExactName(found []Instance, name string) []Instance {
	exact := slices.DeleteFunc(slices.Clone(found), func(in Instance) bool { return in.Name != name })
	if len(exact) > 0 {
		return exact
	}
	return found
}

// searchOtherRegions looks the target up in every other configured region at
// once. A region whose lookup fails is skipped unless all fail.
func (r *run) searchOtherRegions(q InstanceQuery, searched []string) (map[string][]Instance, []string, error) {
	var others []string
	for _, region := range r.d.opts.Regions {
		if !slices.Contains(searched, region) && !slices.Contains(others, region) {
			others = append(others, region)
		}
	}
	hits := map[string][]Instance{}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, region := range others {
		wg.Go(func() {
			found, err := r.lookup(region, q)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", region, err))
			} else if len(found) > 0 {
				hits[region] = found
			}
		})
	}
	wg.Wait()
	searched = append(searched, others...)
	if len(hits) == 0 && len(errs) > 0 && len(errs) == len(others) {
		return nil, searched, errors.Join(errs...)
	}
	return hits, searched, nil
}

// setInstance records the instance and derives its OS and login port, then
// prepares the shared fetches.
func (r *run) setInstance(in Instance) {
	r.inst = &in
	r.os = r.detectOS()
	r.port = r.req.Port
	switch {
	case r.port > 0:
	case in.DefaultLoginPort > 0:
		r.port = in.DefaultLoginPort
	case r.os == OSWindows:
		r.port = 3389
	default:
		r.port = 22
	}
	cloud := r.d.cloud
	r.addrs = fetch(r, func(ctx context.Context) ([]Address, error) { return cloud.Addresses(ctx, r.region, in.PublicIPs) })
	r.ddos = fetch(r, func(ctx context.Context) (map[string]string, error) {
		return cloud.BasicDeviceStatus(ctx, r.region, in.PublicIPs)
	})
	r.policies = fetch(r, r.fetchPolicies)
	r.templates = fetch(r, func(ctx context.Context) (Templates, error) {
		groups, err := r.policies.get(ctx)
		if err != nil {
			return Templates{}, err
		}
		return resolveTemplates(ctx, cloud, r.region, groups)
	})
	r.agent = fetch(r, func(ctx context.Context) (Agent, error) { return cloud.AgentStatus(ctx, r.region, in.ID) })
	r.guest = newLazy(r.runGuestScript)
	r.loginUser = loginUser(r.os, in)
	r.details = newLazy(r.runLoginDetails)
	r.metrics = map[string]*lazy[MetricSeries]{}
}

// portGuess returns why the login port is a guess, or nil: no port was
// asked for or reported, and the OS it follows from is unknown.
func (r *run) portGuess() error {
	if r.osErr == nil || r.req.Port > 0 || r.inst.DefaultLoginPort > 0 {
		return nil
	}
	return fmt.Errorf("the login port %d is a guess: %w", r.port, r.osErr)
}

// detectOS tells Windows from Linux by OsName, then by the image's platform.
func (r *run) detectOS() string {
	name := r.inst.OSName
	if name == "" && r.inst.ImageID != "" {
		name, r.osErr = r.d.cloud.ImagePlatform(r.ctx, r.region, r.inst.ImageID)
	}
	if strings.Contains(strings.ToLower(name), "windows") {
		return OSWindows
	}
	return OSLinux
}

// fetchPolicies reads every security group of the instance at once, in order.
func (r *run) fetchPolicies(ctx context.Context) ([]SecurityGroupPolicies, error) {
	ids := r.inst.SecurityGroupIDs
	out := make([]SecurityGroupPolicies, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			out[i], errs[i] = r.d.cloud.SecurityGroupPolicies(ctx, r.region, id)
			out[i].GroupID = id
			slices.SortStableFunc(out[i].Ingress, func(a, b SecurityGroupPolicy) int { return a.Index - b.Index })
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// metric returns the shared fetch of one metric over the threshold window.
func (r *run) metric(name string) *lazy[MetricSeries] {
	r.metricMu.Lock()
	defer r.metricMu.Unlock()
	if m, ok := r.metrics[name]; ok {
		return m
	}
	end := r.d.opts.Now().Add(-time.Minute) // monitor data lags by a minute or two
	q := MetricQuery{Metric: name, InstanceID: r.inst.ID, Period: time.Minute, Start: end.Add(-r.d.opts.Thresholds.Window), End: end}
	m := fetch(r, func(ctx context.Context) (MetricSeries, error) { return r.d.cloud.MetricData(ctx, r.region, q) })
	r.metrics[name] = m
	return m
}

// summary is the report's view of the instance.
func (r *run) summary() *InstanceSummary {
	in := r.inst
	return &InstanceSummary{
		ID: in.ID, Name: in.Name, OS: r.os, OSName: in.OSName, State: in.State,
		PublicIPs: nonNil(in.PublicIPs), PrivateIPs: nonNil(in.PrivateIPs), LoginPort: r.port,
		SecurityGroups: nonNil(in.SecurityGroupIDs), BandwidthOutMbps: in.BandwidthOutMbps,
		LoginUser: r.loginUser,
	}
}

// loginUser is the user a login to a Linux instance uses: the instance's
// DefaultLoginUser, else the image's usual one (ubuntu on Ubuntu, root
// elsewhere). It is "" on Windows and when the name is not a plain Linux
// user name: the guest checks then skip the login user's key files.
func loginUser(os string, in Instance) string {
	if os == OSWindows {
		return ""
	}
	user := in.DefaultLoginUser
	switch {
	case user != "":
	case strings.Contains(strings.ToLower(in.OSName), "ubuntu"):
		user = "ubuntu"
	default:
		user = "root"
	}
	if !loginUserShape.MatchString(user) {
		return ""
	}
	return user
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// remedyForAPIError tells a person what to do about a failed API call.
func remedyForAPIError(err error) string {
	switch KindOf(err) {
	case KindAuth:
		return "Check tencentcloud.secret_id / secret_key (or TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY) and that this host's clock is right."
	case KindPermission:
		return "Grant the bot's CAM user the read-only actions in configs/cam-policy.json."
	case KindThrottled:
		return "The API is rate limited: try again in a minute."
	case KindUnavailable:
		return "The Tencent Cloud API could not be reached: check network access and tencentcloud.endpoint, then try again."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "The API did not answer in time: try again, or raise diagnosis.timeout."
	}
	return "Try again; if it persists, check the bot's logs."
}

package diag

import "context"

// check is one entry of the catalogue: a stable ID, a title, the checks it
// depends on (it runs only when they are all ok), and its rule.
type check struct {
	id        CheckID
	title     string
	dependsOn []CheckID
	// disabled returns why the check is switched off by configuration, or "".
	disabled func(r *run) string
	run      func(ctx context.Context, r *run) Finding
	// onLoginPort marks checks whose verdict is about the login port: not
	// ok while the port is a guess.
	onLoginPort bool
}

// catalogue is every check, instance.found first (the pipeline resolves it
// itself). Its order is the order of the report before sorting.
var catalogue = []check{
	{id: CheckInstanceFound, title: "Instance found"},
	{id: CheckInstanceState, title: "Instance state", dependsOn: []CheckID{CheckInstanceFound}, run: checkState},
	{id: CheckInstanceIsolation, title: "Security isolation", dependsOn: []CheckID{CheckInstanceFound}, run: checkIsolation},
	{id: CheckInstanceExpired, title: "Expiry", dependsOn: []CheckID{CheckInstanceFound}, run: checkExpired},
	{id: CheckAccountArrears, title: "Account balance", dependsOn: []CheckID{CheckInstanceFound}, run: checkArrears},
	{id: CheckPublicIP, title: "Public IP", dependsOn: []CheckID{CheckInstanceFound}, run: checkPublicIP},
	{id: CheckBandwidthZero, title: "Public bandwidth", dependsOn: []CheckID{CheckPublicIP}, run: checkBandwidthZero},
	{id: CheckIPBlocked, title: "DDoS black hole", dependsOn: []CheckID{CheckPublicIP}, run: checkIPBlocked},
	{id: CheckSGLoginPort, title: "Security group: login port", dependsOn: []CheckID{CheckInstanceFound}, run: checkSGLoginPort, onLoginPort: true},
	{id: CheckSGICMP, title: "Security group: ping", dependsOn: []CheckID{CheckInstanceFound}, run: checkSGICMP},
	{id: CheckPortReachable, title: "Login port reachable", dependsOn: []CheckID{CheckInstanceState, CheckPublicIP},
		disabled: probeDisabled, run: checkPortReachable, onLoginPort: true},
	{id: CheckBandwidthUsage, title: "Bandwidth usage", dependsOn: []CheckID{CheckInstanceState, CheckBandwidthZero}, run: checkBandwidthUsage},
	{id: CheckLoadCPU, title: "CPU load", dependsOn: []CheckID{CheckInstanceState}, run: checkCPU},
	{id: CheckLoadMemory, title: "Memory load", dependsOn: []CheckID{CheckInstanceState}, run: checkMemory},
	{id: CheckGuestAgent, title: "TAT agent", dependsOn: []CheckID{CheckInstanceState}, disabled: guestDisabled, run: checkAgent},
	{id: CheckGuestLoginService, title: "Login service", dependsOn: []CheckID{CheckGuestAgent}, run: checkLoginService, onLoginPort: true},
	{id: CheckGuestLoginConfig, title: "Login settings inside the guest", dependsOn: []CheckID{CheckGuestAgent}, run: checkLoginConfig, onLoginPort: true},
	{id: CheckGuestDisk, title: "Disk space", dependsOn: []CheckID{CheckGuestAgent}, run: checkDisk},
}

func probeDisabled(r *run) string {
	if !r.d.opts.PortProbe {
		return "the port probe is off (diagnosis.port_probe: false)"
	}
	return ""
}

func guestDisabled(r *run) string {
	if !r.d.opts.GuestChecks {
		return "in-guest checks are off (diagnosis.guest_checks: false)"
	}
	return ""
}

// unknownFinding is the finding of a check whose API call failed: never ok.
func unknownFinding(title string, err error) Finding {
	return Finding{Status: StatusUnknown, Severity: SeverityLow, Title: title + ": could not tell",
		Detail: err.Error(), Remediation: remedyForAPIError(err)}
}

// disabledReason returns why configuration switches c off, or "".
func (c check) disabledReason(r *run) string {
	if c.disabled == nil {
		return ""
	}
	return c.disabled(r)
}

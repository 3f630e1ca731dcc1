package diag

import (
	"context"
	"fmt"
	"strings"
	"time"
)

func checkState(_ context.Context, r *run) Finding {
	in := r.inst
	f := Finding{Evidence: map[string]any{"instance_state": in.State}, DocURL: loginDoc(r.os)}
	if in.LatestOperation != "" {
		f.Evidence["latest_operation"] = in.LatestOperation + " " + in.LatestOperationState
	}
	switch in.State {
	case "RUNNING":
		f.Status, f.Title, f.Detail = StatusOK, "Instance is running", "InstanceState RUNNING"
	case "STOPPED":
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, "Instance is shut down"
		f.Detail = "InstanceState STOPPED: nothing answers on the login port."
		f.Remediation = "Start the instance (" + press(FixStartInstance, 0) + "), wait a minute, then log in again."
		f.Fixes, f.DocURL = []FixAction{FixStartInstance}, DocRestart
	case "SHUTDOWN":
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, "Instance is stopped pending destruction"
		f.Detail = fmt.Sprintf("InstanceState SHUTDOWN (isolated: %s): usually expiry or arrears.", orDash(in.IsolatedSource))
		f.Remediation = "Renew the instance or top up the account in the console before it is destroyed."
	case "PENDING", "STARTING", "STOPPING", "REBOOTING":
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, fmt.Sprintf("Instance is %s", strings.ToLower(in.State))
		f.Detail = fmt.Sprintf("InstanceState %s: an operation is in progress.", in.State)
		f.Remediation = "Wait a minute for the operation to finish, then press " + LabelRediagnose + "."
	case "LAUNCH_FAILED", "TERMINATING":
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, fmt.Sprintf("Instance is %s", strings.ToLower(strings.ReplaceAll(in.State, "_", " ")))
		f.Detail = "InstanceState " + in.State
		f.Remediation = "This instance cannot be logged in to; check the console or open a ticket."
	default:
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, "Instance is in maintenance: "+strings.ToLower(strings.ReplaceAll(in.State, "_", " "))
		f.Detail = "InstanceState " + in.State + " (rescue mode or live migration)."
		f.Remediation = "Wait for the maintenance to end, or exit rescue mode in the console."
	}
	return f
}

func checkIsolation(_ context.Context, r *run) Finding {
	in := r.inst
	f := Finding{Evidence: map[string]any{"restrict_state": in.RestrictState}, DocURL: loginDoc(r.os)}
	if in.RestrictState != "PROTECTIVELY_ISOLATED" {
		f.Status, f.Title, f.Detail = StatusOK, "Not under security isolation", "RestrictState "+orDash(in.RestrictState)
		return f
	}
	f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, "Instance is under security isolation"
	f.Detail = "RestrictState PROTECTIVELY_ISOLATED: after a violation or risk event all public traffic is cut; only private-network ports 22, 36000 and 3389 stay reachable."
	f.Remediation = "Deal with the violation named in the console message centre, then open a ticket to lift the isolation. Meanwhile log in over the private network or VNC."
	return f
}

// expiryWarning is how close to expiry a prepaid instance that does not renew
// itself earns a warning.
const expiryWarning = 72 * time.Hour

// renewAuto is the RenewFlag of an instance renewed automatically on expiry.
const renewAuto = "NOTIFY_AND_AUTO_RENEW"

func checkExpired(_ context.Context, r *run) Finding {
	in := r.inst
	f := Finding{Evidence: map[string]any{"restrict_state": in.RestrictState, "isolated_source": in.IsolatedSource, "charge_type": in.ChargeType,
		"renew_flag": in.RenewFlag}, DocURL: loginDoc(r.os)}
	if in.ExpiredTime != nil {
		f.Evidence["expired_time"] = in.ExpiredTime.UTC().Format(time.RFC3339)
	}
	switch {
	case in.RestrictState == "EXPIRED" || in.IsolatedSource == "EXPIRE":
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, "Instance has expired"
		f.Detail = fmt.Sprintf("RestrictState %s, IsolatedSource %s: an expired prepaid instance is isolated and shut down.", orDash(in.RestrictState), orDash(in.IsolatedSource))
		f.Remediation = "Renew the instance in the console (Instances → More → Renew); it starts again after renewal."
	case in.ExpiredTime != nil && in.ExpiredTime.Sub(r.d.opts.Now()) < expiryWarning && in.RenewFlag != renewAuto:
		left := in.ExpiredTime.Sub(r.d.opts.Now()).Round(time.Hour)
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, "Instance expires soon"
		f.Detail = fmt.Sprintf("ExpiredTime %s (in %s).", in.ExpiredTime.UTC().Format(time.RFC3339), left)
		f.Remediation = "Renew the instance, or turn on auto-renewal, so that it is not isolated."
	default:
		f.Status, f.Title, f.Detail = StatusOK, "Not expired", "RestrictState "+orDash(in.RestrictState)
	}
	return f
}

// checkArrears fails only on arrears that block login: an instance isolated
// for arrears, or an amount owed that the account's credit does not cover.
// Owing within credit is a warning, never the likely cause. Amounts stay out of
// the finding: the channel is not the bill's audience.
func checkArrears(ctx context.Context, r *run) Finding {
	in := r.inst
	f := Finding{Evidence: map[string]any{"isolated_source": in.IsolatedSource}, DocURL: loginDoc(r.os)}
	if in.IsolatedSource == "ARREAR" {
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, "Instance is isolated for arrears"
		f.Detail = "IsolatedSource ARREAR: the account is in arrears, so the instance was isolated and shut down."
		f.Remediation = "Top up the account; isolated pay-as-you-go instances are destroyed after a grace period."
		return f
	}
	bal, err := r.balance.get(ctx)
	if err != nil {
		return unknownFinding("Account balance", err)
	}
	owing, covered := bal.owing(), bal.creditCovers()
	f.Evidence["in_arrears"] = owing
	switch {
	case !owing:
		f.Status, f.Title, f.Detail = StatusOK, "Account is not in arrears", "The account's balance is not negative and nothing is owed."
	case covered:
		f.Status, f.Severity, f.Title = StatusWarn, SeverityLow, "Account owes within its credit"
		f.Detail = "The balance is negative, but within the account's credit: resources are not isolated for it, so this does not block login."
		f.Remediation = "Top up before the credit runs out; the account owner sees the amounts in the billing console."
		f.Evidence["covered_by_credit"] = true
	default:
		f.Status, f.Severity, f.Title = StatusFail, SeverityHigh, "Account is in arrears beyond its credit"
		f.Detail = "The account owes more than its credit covers: pay-as-you-go resources are isolated and stopped when arrears persist."
		f.Remediation = "The account owner should top up (amounts in the billing console), then start isolated instances."
		f.Evidence["covered_by_credit"] = false
	}
	return f
}

// owing reports whether the account is in arrears.
func (b AccountBalance) owing() bool { return b.OweAmount > 0 || b.RealBalance < 0 }

// creditCovers reports whether the account's credit covers what it owes: a
// credit line at least the amount owed with credit left, or an account
// allowed to consume while owing.
func (b AccountBalance) creditCovers() bool {
	owed := max(b.OweAmount, -b.RealBalance)
	return b.AllowArrears || (b.CreditAmount > 0 && owed <= b.CreditAmount && b.RealCreditBalance >= 0)
}

func checkPublicIP(_ context.Context, r *run) Finding {
	ips := r.inst.PublicIPs
	f := Finding{Evidence: map[string]any{"public_ips": nonNil(ips), "private_ips": nonNil(r.inst.PrivateIPs)}, DocURL: loginDoc(r.os)}
	if len(ips) > 0 {
		f.Status, f.Title, f.Detail = StatusOK, "Has public IP "+strings.Join(ips, ", "), "PublicIpAddresses "+strings.Join(ips, ", ")
		return f
	}
	if v6 := r.inst.PublicIPv6s; len(v6) > 0 {
		f.Evidence["public_ipv6"] = v6
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, "Instance has only a public IPv6 address"
		f.Detail = fmt.Sprintf("PublicIpAddresses is empty; PublicIPv6Addresses %s is reachable only from IPv6 networks.", strings.Join(v6, ", "))
		f.Remediation = "Connect over IPv6, or bind an EIP to log in over IPv4."
		return f
	}
	f.Status, f.Severity, f.Title = StatusFail, SeverityHigh, "Instance has no public IP"
	f.Detail = fmt.Sprintf("PublicIpAddresses is empty; private IP %s is reachable only inside the VPC.", orDash(strings.Join(r.inst.PrivateIPs, ", ")))
	f.Remediation = "Log in over the private network, a jump host or VNC, or bind an EIP to the instance."
	return f
}

func checkBandwidthZero(_ context.Context, r *run) Finding {
	mbps := r.inst.BandwidthOutMbps
	f := Finding{Evidence: map[string]any{"internet_max_bandwidth_out_mbps": mbps, "internet_charge_type": r.inst.InternetChargeType}, DocURL: loginDoc(r.os)}
	if mbps > 0 {
		f.Status, f.Title, f.Detail = StatusOK, fmt.Sprintf("Public bandwidth is %d Mbps", mbps), fmt.Sprintf("InternetMaxBandwidthOut %d", mbps)
		return f
	}
	f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, "Public bandwidth is 0 Mbps"
	f.Detail = "InternetMaxBandwidthOut 0: the public IP cannot carry any traffic."
	f.Remediation = "Raise the public bandwidth (Instances → More → Network → Adjust network), e.g. to 1 Mbps or more."
	return f
}

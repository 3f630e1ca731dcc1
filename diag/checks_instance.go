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

// expiryWarning is how close to expiry a prepaid instance earns a warning.
const expiryWarning = 72 * time.Hour

func checkExpired(_ context.Context, r *run) Finding {
	in := r.inst
	f := Finding{Evidence: map[string]any{"restrict_state": in.RestrictState, "isolated_source": in.IsolatedSource, "charge_type": in.ChargeType}, DocURL: loginDoc(r.os)}
	if in.ExpiredTime != nil {
		f.Evidence["expired_time"] = in.ExpiredTime.UTC().Format(time.RFC3339)
	}
	switch {
	case in.RestrictState == "EXPIRED" || in.IsolatedSource == "EXPIRE":
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, "Instance has expired"
		f.Detail = fmt.Sprintf("RestrictState %s, IsolatedSource %s: an expired prepaid instance is isolated and shut down.", orDash(in.RestrictState), orDash(in.IsolatedSource))
		f.Remediation = "Renew the instance in the console (Instances → More → Renew); it starts again after renewal."
	case in.ExpiredTime != nil && in.ExpiredTime.Sub(r.d.opts.Now()) < expiryWarning:
		left := in.ExpiredTime.Sub(r.d.opts.Now()).Round(time.Hour)
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, "Instance expires soon"
		f.Detail = fmt.Sprintf("ExpiredTime %s (in %s).", in.ExpiredTime.UTC().Format(time.RFC3339), left)
		f.Remediation = "Renew the instance, or turn on auto-renewal, so that it is not isolated."
	default:
		f.Status, f.Title, f.Detail = StatusOK, "Not expired", "RestrictState "+orDash(in.RestrictState)
	}
	return f
}

func checkArrears(ctx context.Context, r *run) Finding {
	in := r.inst
	f := Finding{Evidence: map[string]any{"isolated_source": in.IsolatedSource}, DocURL: loginDoc(r.os)}
	bal, err := r.balance.get(ctx)
	if err == nil {
		f.Evidence["owe_amount_cents"] = bal.OweAmount
		f.Evidence["real_balance_cents"] = bal.RealBalance
	}
	switch {
	case in.IsolatedSource == "ARREAR":
		f.Status, f.Severity, f.Title = StatusFail, SeverityCritical, "Instance is isolated for arrears"
		f.Detail = "IsolatedSource ARREAR: the account is in arrears, so the instance was isolated and shut down."
		f.Remediation = "Top up the account; isolated pay-as-you-go instances are destroyed after a grace period."
	case err != nil:
		return unknownFinding("Account balance", err)
	case bal.OweAmount > 0 || bal.RealBalance < 0:
		f.Status, f.Severity, f.Title = StatusFail, SeverityHigh, "Account is in arrears"
		f.Detail = fmt.Sprintf("OweAmount %.2f, RealBalance %.2f (CNY): resources are isolated when arrears persist.", bal.OweAmount/100, bal.RealBalance/100)
		f.Remediation = "Top up the account, then restart isolated instances."
	default:
		f.Status, f.Title = StatusOK, "Account is not in arrears"
		f.Detail = fmt.Sprintf("RealBalance %.2f CNY, OweAmount 0", bal.RealBalance/100)
	}
	return f
}

func checkPublicIP(_ context.Context, r *run) Finding {
	ips := r.inst.PublicIPs
	f := Finding{Evidence: map[string]any{"public_ips": nonNil(ips), "private_ips": nonNil(r.inst.PrivateIPs)}, DocURL: loginDoc(r.os)}
	if len(ips) > 0 {
		f.Status, f.Title, f.Detail = StatusOK, "Has public IP "+strings.Join(ips, ", "), "PublicIpAddresses "+strings.Join(ips, ", ")
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

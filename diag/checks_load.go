package diag

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// sustainedPoints is how many of the latest points must all be saturated for
// a load finding to fail rather than warn.
const sustainedPoints = 3

// saturation summarises a series against a limit.
type saturation struct {
	max, latest float64
	sustained   bool // the latest sustainedPoints are all at or above the limit
	spiked      bool // some point is at or above the limit
}

func saturated(values []float64, limit float64) saturation {
	s := saturation{max: slices.Max(values), latest: values[len(values)-1]}
	s.spiked = s.max >= limit
	tail := values[max(0, len(values)-sustainedPoints):]
	s.sustained = slices.Min(tail) >= limit
	return s
}

func seriesEvidence(ser MetricSeries, window time.Duration, unit string) map[string]any {
	ev := map[string]any{
		"metric":   ser.Metric,
		"values":   ser.Values,
		"period_s": int(ser.Period.Seconds()),
		"window":   window.String(),
		"max":      slices.Max(ser.Values),
		"latest":   ser.Values[len(ser.Values)-1],
		"unit":     unit,
		"points":   len(ser.Values),
	}
	if n := len(ser.Timestamps); n > 0 {
		ev["window_end"] = ser.Timestamps[n-1].UTC().Format(time.RFC3339)
	}
	return ev
}

func checkCPU(ctx context.Context, r *run) Finding {
	ser, err := r.metric("CPUUsage").get(ctx)
	if err == nil && len(ser.Values) == 0 {
		// No agent in the guest: the host-side metric still tells.
		ser, err = r.metric("BaseCpuUsage").get(ctx)
	}
	return r.loadFinding(ser, err, "CPU", r.d.opts.Thresholds.CPUPercent)
}

func checkMemory(ctx context.Context, r *run) Finding {
	ser, err := r.metric("MemUsage").get(ctx)
	return r.loadFinding(ser, err, "Memory", r.d.opts.Thresholds.MemoryPercent)
}

// loadFinding judges a utilisation series in percent.
func (r *run) loadFinding(ser MetricSeries, err error, what string, limit float64) Finding {
	if err != nil {
		return unknownFinding(what+" load", err)
	}
	if len(ser.Values) == 0 {
		return Finding{Status: StatusUnknown, Severity: SeverityLow, Title: what + " load: no data",
			Detail:      fmt.Sprintf("Cloud Monitor returned no %s points for the last %s: the monitoring agent is probably not running.", ser.Metric, r.d.opts.Thresholds.Window),
			Remediation: "Install or restart the Cloud Monitor agent to see load metrics.", DocURL: loginDoc(r.os)}
	}
	s := saturated(ser.Values, limit)
	f := Finding{Evidence: seriesEvidence(ser, r.d.opts.Thresholds.Window, "%"), DocURL: r.highLoadDoc()}
	switch {
	case s.sustained:
		f.Status, f.Severity, f.Title = StatusFail, SeverityHigh, fmt.Sprintf("%s is saturated (%.0f%%)", what, s.latest)
		f.Detail = fmt.Sprintf("%s at %.1f%% now, max %.1f%% over the last %s (limit %.0f%%): sshd/RDP may not get to answer.", ser.Metric, s.latest, s.max, r.d.opts.Thresholds.Window, limit)
		f.Remediation = "Find the busy process through VNC (top / Task Manager) and stop it, or " + press(FixRestartInstance, 0) + "; consider a larger instance type."
		f.Fixes = []FixAction{FixRestartInstance}
	case s.spiked:
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, fmt.Sprintf("%s peaked at %.0f%%", what, s.max)
		f.Detail = fmt.Sprintf("%s max %.1f%% in the last %s, %.1f%% now (limit %.0f%%).", ser.Metric, s.max, r.d.opts.Thresholds.Window, s.latest, limit)
		f.Remediation = "Load is spiky; if logins time out, look for the busy process."
	default:
		f.Status, f.Title = StatusOK, fmt.Sprintf("%s is at %.0f%%", what, s.latest)
		f.Detail = fmt.Sprintf("%s max %.1f%% over the last %s.", ser.Metric, s.max, r.d.opts.Thresholds.Window)
	}
	return f
}

func (r *run) highLoadDoc() string {
	if r.os == OSWindows {
		return DocWindowsLogin
	}
	return DocLinuxHighLoad
}

func checkBandwidthUsage(ctx context.Context, r *run) Finding {
	ser, err := r.metric("WanOuttraffic").get(ctx)
	if err != nil {
		return unknownFinding("Bandwidth usage", err)
	}
	if len(ser.Values) == 0 {
		return Finding{Status: StatusUnknown, Severity: SeverityLow, Title: "Bandwidth usage: no data",
			Detail: "Cloud Monitor returned no WanOuttraffic points for the window.", DocURL: loginDoc(r.os)}
	}
	limit := float64(r.inst.BandwidthOutMbps)
	s := saturated(ser.Values, limit*r.d.opts.Thresholds.BandwidthPercent/100)
	f := Finding{Evidence: seriesEvidence(ser, r.d.opts.Thresholds.Window, "Mbps"), DocURL: loginDoc(r.os)}
	f.Evidence["limit_mbps"] = r.inst.BandwidthOutMbps
	pct := 100 * s.latest / limit
	switch {
	case s.sustained:
		f.Status, f.Severity, f.Title = StatusFail, SeverityHigh, fmt.Sprintf("Outbound bandwidth is saturated (%.0f%%)", pct)
		f.Detail = fmt.Sprintf("WanOuttraffic %.2f of %d Mbps now, max %.2f over the last %s: login traffic is squeezed out.", s.latest, r.inst.BandwidthOutMbps, s.max, r.d.opts.Thresholds.Window)
		f.Remediation = "Find the process sending traffic through VNC (iftop / Resource Monitor), or raise the bandwidth."
	case s.spiked:
		f.Status, f.Severity, f.Title = StatusWarn, SeverityMedium, "Outbound bandwidth peaked near its limit"
		f.Detail = fmt.Sprintf("WanOuttraffic max %.2f of %d Mbps in the last %s.", s.max, r.inst.BandwidthOutMbps, r.d.opts.Thresholds.Window)
	default:
		f.Status, f.Title = StatusOK, fmt.Sprintf("Outbound bandwidth at %.0f%% of %d Mbps", pct, r.inst.BandwidthOutMbps)
		f.Detail = fmt.Sprintf("WanOuttraffic max %.2f Mbps over the last %s.", s.max, r.d.opts.Thresholds.Window)
	}
	return f
}

package diag

// Tencent Cloud documentation linked from findings: the pages Tencent itself
// points to from its login troubleshooting guides.
const (
	docBase          = "https://intl.cloud.tencent.com/document/product/"
	DocWindowsLogin  = docBase + "213/10339" // Windows instance login failures
	DocLinuxLogin    = docBase + "213/32500" // Linux instance login failures
	DocRestart       = docBase + "213/4928"  // restarting instances
	DocRDPErrors     = docBase + "213/32420" // RDP connection errors
	DocRDPDisabled   = docBase + "213/32422" // remote desktop not enabled or listening
	DocRDPAuth       = docBase + "213/32421" // RDP authentication errors
	DocRDPService    = docBase + "213/32404" // remote desktop service problems
	DocLinuxHighLoad = docBase + "213/32387" // Linux high CPU or memory usage
)

// loginDoc returns the general login-failure page for an OS.
func loginDoc(os string) string {
	if os == OSWindows {
		return DocWindowsLogin
	}
	return DocLinuxLogin
}

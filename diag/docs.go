package diag

// Tencent Cloud documentation linked from findings: the pages Tencent itself
// points to from its login troubleshooting guides. Each Windows page is named
// by its title in the guide.
const (
	docBase          = "https://intl.cloud.tencent.com/document/product/"
	DocWindowsLogin  = docBase + "213/10339" // Windows instance login failures
	DocLinuxLogin    = docBase + "213/32500" // Linux instance login failures
	DocRestart       = docBase + "213/4928"  // restarting instances
	DocLinuxHighLoad = docBase + "213/32387" // Linux high CPU or memory usage
	// DocRDPService is "Remote desktop cannot connect to the remote computer":
	// remote desktop disabled (fDenyTSConnections), Remote Desktop Services
	// stopped, the RDP port not listening or blocked.
	DocRDPService = docBase + "213/32404"
	// DocRDPUnauthorized is "Unauthorized to log in via remote desktop
	// service": the account lacks the right to log on through Remote Desktop.
	DocRDPUnauthorized = docBase + "213/32420"
	// DocRDPAuth is "Authentication error" (CredSSP, password, NLA).
	DocRDPAuth = docBase + "213/32421"
	// DocRDPMac is "Mac remote login exception": connecting from macOS clients.
	DocRDPMac = docBase + "213/32422"
)

// loginDoc returns the general login-failure page for an OS.
func loginDoc(os string) string {
	if os == OSWindows {
		return DocWindowsLogin
	}
	return DocLinuxLogin
}

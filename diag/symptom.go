package diag

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// SymptomFamily names a kind of login error, as the user's client reported
// it. Families are stable: they appear in the JSON report.
type SymptomFamily string

// The families the classifier knows. SymptomUnknown is text it could not
// place: the full diagnosis still runs.
const (
	SymptomSSHRefused        SymptomFamily = "ssh.connection_refused"
	SymptomSSHTimeout        SymptomFamily = "ssh.connection_timed_out"
	SymptomSSHPublicKey      SymptomFamily = "ssh.publickey_denied"
	SymptomSSHPassword       SymptomFamily = "ssh.password_denied"
	SymptomSSHHostKeyChanged SymptomFamily = "ssh.host_key_changed"
	SymptomSSHTooManyAuth    SymptomFamily = "ssh.too_many_auth_failures"
	SymptomSSHClosed         SymptomFamily = "ssh.connection_closed"
	SymptomRDPNotAuthorized  SymptomFamily = "rdp.not_authorized"
	SymptomRDPAuthError      SymptomFamily = "rdp.authentication_error"
	SymptomRDPMacClient      SymptomFamily = "rdp.mac_client"
	SymptomRDPCannotConnect  SymptomFamily = "rdp.cannot_connect"
	SymptomRDPNoLicense      SymptomFamily = "rdp.no_license_server"
	SymptomUnknown           SymptomFamily = "unknown"
)

// Tencent Cloud pages about specific login errors.
const (
	docSSHKeys        = docBase + "213/6092"  // SSH key pairs: how key login works
	docLoginPort      = docBase + "213/10232" // login port closed or changed
	docRDPNotAllowed  = docBase + "213/32420" // unauthorized to log in via remote desktop service
	docRDPAuthError   = docBase + "213/32421" // authentication error (CredSSP)
	docRDPMac         = docBase + "213/32422" // Mac remote login exception
	docRDPCannotReach = docBase + "213/32404" // remote desktop cannot connect to the remote computer
)

// Symptom is the error message the user saw, classified (design.md B7).
type Symptom struct {
	// Text is what the user typed, bounded and with control characters removed.
	Text   string        `json:"text"`
	Family SymptomFamily `json:"family"`
	DocURL string        `json:"doc_url,omitempty"`
	// Title says in a few words what the family means.
	Title string `json:"title,omitempty"`
	// Advice is what the user can do on their own side, before any fix.
	Advice string `json:"advice,omitempty"`
	// Focus lists the checks that matter most for this family, most telling
	// first; a report shows them before the others.
	Focus []CheckID `json:"focus,omitempty"`
}

// MaxSymptomText bounds the symptom text kept in a report and classified,
// in bytes: its first MaxSymptomText.
const MaxSymptomText = 500

// symptomRule is one row of the classifier: the first rule whose pattern
// matches the text names its family.
type symptomRule struct {
	family  SymptomFamily
	pattern *regexp.Regexp
	title   string
	doc     string
	advice  string
	focus   []CheckID
}

// networkPath are the checks that decide whether packets reach the instance.
var networkPath = []CheckID{CheckInstanceState, CheckPublicIP, CheckBandwidthZero, CheckIPBlocked,
	CheckSGLoginPort, CheckPortReachable, CheckInstanceIsolation}

// symptomRules is the classifier, most specific first. The patterns match the
// wording OpenSSH (Linux, macOS, Windows), PuTTY, mstsc and Microsoft Remote
// Desktop for Mac really print; see symptom_test.go for the samples.
var symptomRules = []symptomRule{
	{SymptomSSHHostKeyChanged, regexp.MustCompile(`(?i)remote host identification has changed|host key verification failed|host key for .* has changed`),
		"The instance's host key changed (rebuilt or re-imaged instance, or a reused IP)", DocLinuxLogin,
		"If the instance was rebuilt or re-imaged, or its IP reassigned, remove the old entry with `ssh-keygen -R <ip>` and connect again; if none of that happened, do not connect: someone may be intercepting the connection.",
		[]CheckID{CheckInstanceFound, CheckInstanceState}},
	{SymptomSSHTooManyAuth, regexp.MustCompile(`(?i)too many authentication failures`),
		"The client offered too many keys before the right one", docSSHKeys,
		"Connect with only the right key: `ssh -o IdentitiesOnly=yes -i <key> <user>@<ip>`.",
		[]CheckID{CheckGuestLoginService}},
	{SymptomSSHPublicKey, regexp.MustCompile(`(?i)permission denied \(publickey|no supported authentication methods available|server refused our key`),
		"The server refused the SSH key", docSSHKeys,
		"Use the key pair bound to the instance and the image's user (root, ubuntu, centos…): `ssh -i <key> <user>@<ip>`. Check that the key is bound in the console.",
		[]CheckID{CheckGuestLoginConfig, CheckGuestLoginService, CheckGuestDisk}},
	{SymptomSSHPassword, regexp.MustCompile(`(?i)permission denied, please try again|access denied|authentication failed`),
		"The server refused the password", DocLinuxLogin,
		"Check the user name and password; a forgotten password can be reset in the console (the instance restarts).",
		[]CheckID{CheckGuestLoginConfig, CheckGuestLoginService, CheckGuestDisk}},
	{SymptomSSHClosed, regexp.MustCompile(`(?i)(kex|ssh)_exchange_identification|connection reset by|connection closed by|software caused connection abort|server unexpectedly closed`),
		"The server closed the connection before login (MaxStartups, hosts.deny, or overload)", DocLinuxLogin,
		"Wait a minute and retry once; repeated closes point at sshd limits or a deny list in the guest.",
		[]CheckID{CheckGuestLoginConfig, CheckGuestLoginService, CheckLoadCPU, CheckLoadMemory, CheckGuestDisk}},
	{SymptomSSHRefused, regexp.MustCompile(`(?i)connection refused`),
		"Nothing accepts connections on the login port (service down, wrong port, or a guest firewall rejecting)", docLoginPort,
		"Check the port you connect to (`ssh -p <port>`); the instance answered, so the network path is open.",
		[]CheckID{CheckGuestLoginService, CheckGuestLoginConfig, CheckPortReachable, CheckSGLoginPort}},
	{SymptomSSHTimeout, regexp.MustCompile(`(?i)(connection|operation) timed out|network error: connection timed out|no route to host|network is unreachable`),
		"Packets never reached the login service (security group, public IP, bandwidth, or a stopped instance)", DocLinuxLogin,
		"Check you are connecting to the instance's public IP; a corporate firewall on your side can also drop outgoing port 22.",
		networkPath},
	{SymptomRDPNotAuthorized, regexp.MustCompile(`(?i)not authorized for remote login|right to sign in through remote desktop services|remote desktop users group`),
		"The account is not allowed to log in over Remote Desktop", docRDPNotAllowed,
		"Log in as Administrator, or add the account to the Remote Desktop Users group (through VNC if needed).",
		[]CheckID{CheckGuestLoginConfig, CheckGuestLoginService}},
	{SymptomRDPAuthError, regexp.MustCompile(`(?i)credssp|encryption oracle remediation|an authentication error has occurred`),
		"Remote Desktop authentication error (CredSSP)", docRDPAuthError,
		"Install the latest Windows updates on your computer and on the instance. Until both are updated, on your computer set the Encryption Oracle Remediation policy (gpedit.msc → Computer Configuration → Administrative Templates → System → Credentials Delegation) to Vulnerable.",
		[]CheckID{CheckGuestLoginConfig, CheckGuestLoginService}},
	{SymptomRDPNoLicense, regexp.MustCompile(`(?i)no remote desktop license servers`),
		"No Remote Desktop license server is available", DocWindowsLogin,
		"Use `mstsc /admin` to connect to the console session, then configure or remove the Remote Desktop Session Host role.",
		[]CheckID{CheckGuestLoginService}},
	{SymptomRDPMacClient, regexp.MustCompile(`(?i)0x204|0x207|unable to connect to remote pc|we couldn't connect to the remote pc`),
		"Microsoft Remote Desktop for Mac could not connect", docRDPMac,
		"Check the PC name and port in the Mac client; set Security to \"Always connect\" if a certificate prompt blocks it.",
		append([]CheckID{CheckGuestLoginService}, networkPath...)},
	{SymptomRDPCannotConnect, regexp.MustCompile(`(?i)remote desktop can('|’)?t connect to the remote computer|remote access to the server is not enabled`),
		"Remote Desktop cannot reach the instance", docRDPCannotReach,
		"Check the address and port; the findings below say whether the network path or the Remote Desktop service is at fault.",
		append(append([]CheckID{}, networkPath...), CheckGuestLoginService, CheckGuestLoginConfig)},
}

// ClassifySymptom classifies the error text a user saw. It returns nil for
// text that is empty after cleaning; unrecognised text gets SymptomUnknown
// with the general login page of os ("" when the OS is not known yet).
func ClassifySymptom(text, os string) *Symptom {
	text = cleanSymptomText(text)
	if text == "" {
		return nil
	}
	for _, rule := range symptomRules {
		if rule.pattern.MatchString(text) {
			return &Symptom{Text: text, Family: rule.family, DocURL: rule.doc, Title: rule.title,
				Advice: rule.advice, Focus: rule.focus}
		}
	}
	return &Symptom{Text: text, Family: SymptomUnknown, DocURL: loginDoc(os),
		Title: "An error the classifier does not know: every check runs"}
}

// cleanSymptomText removes control characters, folds white space and bounds
// the text, so that what the user pasted can be stored and echoed safely.
func cleanSymptomText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > MaxSymptomText {
		cut := MaxSymptomText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// FocusFirst returns findings with the symptom's focus checks first, in
// focus order, and the others after them in their original order.
func (s *Symptom) FocusFirst(findings []Finding) []Finding {
	if s == nil || len(s.Focus) == 0 {
		return findings
	}
	out := make([]Finding, 0, len(findings))
	for _, id := range s.Focus {
		for _, f := range findings {
			if f.Check == id {
				out = append(out, f)
			}
		}
	}
	for _, f := range findings {
		if !slices.Contains(s.Focus, f.Check) {
			out = append(out, f)
		}
	}
	return out
}

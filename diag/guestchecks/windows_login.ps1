# cvmlogin-script: login-details
# cvmlogin read-only login details on Windows: RDP settings, Remote Desktop
# Users, CredSSP policy and the firewall. Changes nothing. The Go side
# prepends $CvmloginPort.
$P = 'cvmlogin.'
function Say($key, $value) { Write-Output ("$P$key=" + ("$value" -replace '[\r\n]', ' ')) }
$ts = Get-ItemProperty 'HKLM:\System\CurrentControlSet\Control\Terminal Server' -ErrorAction SilentlyContinue
Say 'rdp_denied' ([bool]($ts.fDenyTSConnections -eq 1))
$tcp = Get-ItemProperty 'HKLM:\System\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp' -ErrorAction SilentlyContinue
Say 'rdp_port' $tcp.PortNumber
Say 'rdp_nla' ([bool]($tcp.UserAuthentication -eq 1))
$cred = Get-ItemProperty 'HKLM:\Software\Microsoft\Windows\CurrentVersion\Policies\System\CredSSP\Parameters' -ErrorAction SilentlyContinue
Say 'credssp_allow_encryption_oracle' $cred.AllowEncryptionOracle
$members = Get-LocalGroupMember -SID 'S-1-5-32-555' -ErrorAction SilentlyContinue | ForEach-Object { $_.Name }
Say 'remote_desktop_users' ($members -join ',')
$rules = Get-NetFirewallRule -Group '@FirewallAPI.dll,-28752' -Direction Inbound -ErrorAction SilentlyContinue
Say 'rdp_firewall_rules_enabled' ([bool]($rules | Where-Object { $_.Enabled -eq 'True' }))
$profiles = Get-NetFirewallProfile -ErrorAction SilentlyContinue | Where-Object { $_.Enabled } | ForEach-Object { $_.Name }
Say 'guest_firewall' ($(if ($profiles) { 'windows' } else { 'none' }))

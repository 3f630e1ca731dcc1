# cvmlogin-script: login-service
# cvmlogin read-only login service check on Windows, for a login watch:
# TermService's state, whether the login port listens, and whether Remote
# Desktop is allowed. Changes nothing. The Go side prepends $CvmloginPort.
$P = 'cvmlogin.'
Write-Output "${P}os=windows"
Write-Output "${P}login_service=TermService"
$svc = Get-Service TermService -ErrorAction SilentlyContinue
Write-Output "${P}login_service_state=$(if ($svc) { $svc.Status.ToString().ToLower() } else { 'missing' })"
Write-Output "${P}login_socket="
# listening_ports is the login port when it is in LISTEN state, else empty.
$on = Get-NetTCPConnection -State Listen -LocalPort $CvmloginPort -ErrorAction SilentlyContinue
Write-Output "${P}listening_ports=$(if ($on) { $CvmloginPort } else { '' })"
$deny = (Get-ItemProperty 'HKLM:\System\CurrentControlSet\Control\Terminal Server' -ErrorAction SilentlyContinue).fDenyTSConnections
Write-Output "${P}rdp_denied=$([bool]($deny -eq 1))"

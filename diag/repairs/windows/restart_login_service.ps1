# cvmlogin-script: restart_login_service
# Restarts Remote Desktop Services (TermService) and its dependents.
try {
  Restart-Service -Name TermService -Force -ErrorAction Stop
} catch {
  Finish 'failed' "restarting TermService: $($_.Exception.Message)"
}
$state = (Get-Service TermService).Status
Finish 'changed' "restarted TermService (state: $state)"

# cvmlogin-script: enable_rdp
# Allows Remote Desktop connections (fDenyTSConnections=0) and enables the
# Remote Desktop firewall rules. The previous value is printed for the undo.
$key = 'HKLM:\System\CurrentControlSet\Control\Terminal Server'
$before = (Get-ItemProperty -Path $key -ErrorAction SilentlyContinue).fDenyTSConnections
$rulesOff = @(Get-NetFirewallRule -Group $RdpGroup -Direction Inbound -ErrorAction SilentlyContinue | Where-Object { $_.Enabled -ne 'True' }).Count
Say 'repair_before' "fDenyTSConnections=$before; disabled Remote Desktop firewall rules: $rulesOff"
try {
  Set-ItemProperty -Path $key -Name fDenyTSConnections -Value 0 -ErrorAction Stop
  Enable-NetFirewallRule -Group $RdpGroup -ErrorAction Stop
} catch {
  Finish 'failed' "enabling Remote Desktop: $($_.Exception.Message)"
}
if ($before -eq 0 -and $rulesOff -eq 0) { Finish 'unchanged' 'Remote Desktop was already allowed and its firewall rules enabled' }
Finish 'changed' 'Remote Desktop is allowed and its firewall rules are enabled'

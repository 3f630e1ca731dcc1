# cvmlogin-script: undo_guest_firewall
# Removes exactly the rule open_guest_firewall added.
$name = "cvmlogin:$CvmloginFixId"
if (-not (Get-NetFirewallRule -Name $name -ErrorAction SilentlyContinue)) { Finish 'unchanged' "the rule $name is already gone" }
try { Remove-NetFirewallRule -Name $name -ErrorAction Stop } catch { Finish 'failed' "removing $($name): $($_.Exception.Message)" }
Finish 'changed' "removed the rule $name"

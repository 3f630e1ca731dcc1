# cvmlogin-script: open_guest_firewall
# Allows inbound TCP $CvmloginPort in Windows Firewall with a rule named
# cvmlogin:$CvmloginFixId, which the undo removes.
$name = "cvmlogin:$CvmloginFixId"
try {
  New-NetFirewallRule -Name $name -DisplayName $name -Direction Inbound -Protocol TCP -LocalPort $CvmloginPort -Action Allow -ErrorAction Stop | Out-Null
} catch {
  Finish 'failed' "adding the firewall rule: $($_.Exception.Message)"
}
Say 'repair_undo' 'windows'
Finish 'changed' "Windows Firewall allows TCP $CvmloginPort (rule $name)"

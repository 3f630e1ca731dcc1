# cvmlogin guest repair: shared helpers. The Go side prepends the validated
# parameters ($CvmloginPort, $CvmloginFixId, $CvmloginMechanism) and this file.
$P = 'cvmlogin.'
function Say($key, $value) { Write-Output ("$P$key=" + ("$value" -replace '[\r\n]', ' ')) }
function Finish($result, $detail) { Say 'repair_result' $result; Say 'repair_detail' $detail; exit 0 }
# The Remote Desktop firewall rule group by its resource ID, which does not
# change with the Windows display language.
$RdpGroup = '@FirewallAPI.dll,-28752'

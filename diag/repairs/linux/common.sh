# cvmlogin guest repair: shared helpers. The Go side prepends the validated
# parameters (CVMLOGIN_PORT, CVMLOGIN_USER, CVMLOGIN_FIX_ID, CVMLOGIN_MECHANISM)
# and this file to each repair script. Nothing here comes from a chat message.
P=cvmlogin.
say() { printf '%s%s=%s\n' "$P" "$1" "$(printf '%s' "$2" | tr '\n' ' ' | cut -c1-400)"; }
finish() { say repair_result "$1"; say repair_detail "$2"; exit 0; }
have() { command -v "$1" >/dev/null 2>&1; }

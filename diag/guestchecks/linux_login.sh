#!/bin/sh
# cvmlogin-script: login-details
# cvmlogin read-only login details: sshd's effective settings, the login
# user's key files and account, hosts.deny and the guest firewall. Changes
# nothing. The Go side prepends CVMLOGIN_PORT and CVMLOGIN_USER (validated).
P=cvmlogin.
say() { printf '%s%s=%s\n' "$P" "$1" "$(printf '%s' "$2" | tr '\n' ' ' | cut -c1-300)"; }
have() { command -v "$1" >/dev/null 2>&1; }
if have sshd && eff=$(sshd -T 2>/dev/null); then
  say sshd_config_valid yes
  for k in port passwordauthentication pubkeyauthentication permitrootlogin allowusers allowgroups denyusers maxstartups; do
    say "sshd_$k" "$(printf '%s\n' "$eff" | awk -v k="$k" '$1 == k { $1 = ""; sub(/^ /, ""); print }' | paste -sd, -)"
  done
elif have sshd; then
  say sshd_config_valid no
  say sshd_config_error "$(sshd -t 2>&1 | head -n 3)"
fi
if entry=$(getent passwd "$CVMLOGIN_USER" 2>/dev/null) && [ -n "$entry" ]; then
  home=$(printf '%s' "$entry" | cut -d: -f6)
  say login_user "$CVMLOGIN_USER"
  say login_shell "$(printf '%s' "$entry" | cut -d: -f7)"
  say authorized_keys_modes "$(stat -c '%a %U' "$home" "$home/.ssh" "$home/.ssh/authorized_keys" 2>/dev/null | paste -sd';' -)"
  say authorized_keys_count "$(grep -cE '^(ssh-|ecdsa-|sk-)' "$home/.ssh/authorized_keys" 2>/dev/null || echo 0)"
  say account_status "$(passwd -S "$CVMLOGIN_USER" 2>/dev/null | awk '{print $2}')"
  say account_expires "$(chage -l "$CVMLOGIN_USER" 2>/dev/null | awk -F': ' '/^Account expires/ {print $2}')"
  say password_expires "$(chage -l "$CVMLOGIN_USER" 2>/dev/null | awk -F': ' '/^Password expires/ {print $2}')"
else
  say login_user_missing "$CVMLOGIN_USER"
fi
say hosts_deny "$(grep -vE '^[[:space:]]*(#|$)' /etc/hosts.deny 2>/dev/null | grep -iE 'sshd|ALL' | head -n 3 | paste -sd';' -)"
fw=none allows=unknown
if have firewall-cmd && firewall-cmd --state >/dev/null 2>&1; then
  fw=firewalld
  if firewall-cmd --query-port="$CVMLOGIN_PORT/tcp" >/dev/null 2>&1 || { [ "$CVMLOGIN_PORT" = 22 ] && firewall-cmd --query-service=ssh >/dev/null 2>&1; }; then allows=yes; else allows=no; fi
elif have ufw && ufw status 2>/dev/null | grep -q '^Status: active'; then
  fw=ufw
  if ufw status 2>/dev/null | grep -qE "^($CVMLOGIN_PORT|$CVMLOGIN_PORT/tcp|OpenSSH)[[:space:]].*ALLOW"; then allows=yes; else allows=no; fi
elif have iptables && rules=$(iptables -S INPUT 2>/dev/null); then
  fw=iptables
  policy=$(printf '%s\n' "$rules" | awk '$1 == "-P" {print $3}')
  first=$(printf '%s\n' "$rules" | grep -E "^-A INPUT" | grep -E -- "--dport $CVMLOGIN_PORT( |$)|-j (DROP|REJECT)$" | head -n 1)
  case "$first" in
  *"--dport $CVMLOGIN_PORT"*"-j ACCEPT"*) allows=yes ;;
  *"-j DROP"*|*"-j REJECT"*) allows=no ;;
  *) [ "$policy" = DROP ] && allows=no || allows=yes ;;
  esac
fi
say guest_firewall "$fw"
say guest_firewall_allows_port "$allows"

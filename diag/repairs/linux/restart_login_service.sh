# cvmlogin-script: restart_login_service
# Restarts the SSH service (or ssh.socket where sshd is socket-activated).
# Refuses when sshd -t rejects the configuration: sshd would not come back.
svc=sshd
if have systemctl && systemctl list-unit-files ssh.service >/dev/null 2>&1 && ! systemctl list-unit-files sshd.service >/dev/null 2>&1; then
  svc=ssh
fi
if have sshd; then
  if ! check=$(sshd -t 2>&1); then
    finish refused "sshd -t rejects the configuration, so a restart would leave SSH down: $check"
  fi
fi
unit=$svc.service
if have systemctl && systemctl is-active ssh.socket >/dev/null 2>&1; then
  unit=ssh.socket
fi
if have systemctl; then
  systemctl restart "$unit"; rc=$?
  state=$(systemctl is-active "$unit" 2>/dev/null)
else
  service "$svc" restart; rc=$?
  state=unknown
fi
if [ "$rc" -ne 0 ]; then
  finish failed "restarting $unit exited $rc (state: ${state:-unknown})"
fi
finish changed "restarted $unit (state: ${state:-unknown})"

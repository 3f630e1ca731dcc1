#!/bin/sh
# cvmlogin-script: login-service
# cvmlogin read-only login service check, for a login watch: the login
# service's state, its systemd socket, and whether the login port listens.
# Changes nothing. The Go side prepends CVMLOGIN_PORT (validated).
P=cvmlogin.
echo "${P}os=linux"
svc=sshd
systemctl list-unit-files ssh.service >/dev/null 2>&1 && ! systemctl list-unit-files sshd.service >/dev/null 2>&1 && svc=ssh
echo "${P}login_service=$svc"
state=$(systemctl is-active "$svc" 2>/dev/null | head -n1)
if [ -z "$state" ]; then
  if service "$svc" status >/dev/null 2>&1; then state=active; else state=inactive; fi
fi
echo "${P}login_service_state=$state"
sock=
for u in ssh.socket sshd.socket; do
  if systemctl is-active --quiet "$u" 2>/dev/null; then sock=$u; break; fi
done
echo "${P}login_socket=$sock"
# listening_ports is the login port when it is in LISTEN state, else empty.
hex=$(printf '%04X' "$CVMLOGIN_PORT")
if ss -ltnH "sport = :$CVMLOGIN_PORT" 2>/dev/null | grep -q .; then
  on=$CVMLOGIN_PORT
elif netstat -ltn 2>/dev/null | awk '$1 ~ /^tcp/ {print $4}' | grep -qE "[:.]$CVMLOGIN_PORT\$"; then
  on=$CVMLOGIN_PORT
elif awk -v h="$hex" 'FNR > 1 && $4 == "0A" {split($2, a, ":"); if (a[2] == h) f = 1} END {exit !f}' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
  on=$CVMLOGIN_PORT
else
  on=
fi
echo "${P}listening_ports=$on"
echo "${P}rdp_denied=false"

# cvmlogin-script: undo_guest_firewall
# Removes exactly what open_guest_firewall added, by the mechanism it used.
tag="cvmlogin:$CVMLOGIN_FIX_ID"
port="$CVMLOGIN_PORT/tcp"
case "$CVMLOGIN_MECHANISM" in
firewalld)
  firewall-cmd --remove-port="$port" >/dev/null; firewall-cmd --permanent --remove-port="$port" >/dev/null
  finish changed "firewalld no longer allows $port" ;;
ufw)
  ufw delete allow "$port" >/dev/null || finish failed "ufw could not delete the $port rule"
  finish changed "ufw no longer allows $port" ;;
iptables)
  if ! iptables -C INPUT -p tcp --dport "$CVMLOGIN_PORT" -m comment --comment "$tag" -j ACCEPT 2>/dev/null; then
    finish unchanged "the $tag rule is already gone"
  fi
  iptables -D INPUT -p tcp --dport "$CVMLOGIN_PORT" -m comment --comment "$tag" -j ACCEPT \
    || finish failed "iptables could not delete the $tag rule"
  finish changed "removed the $tag rule" ;;
esac
finish refused "unknown firewall mechanism"

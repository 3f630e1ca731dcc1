# cvmlogin-script: open_guest_firewall
# Opens TCP $CVMLOGIN_PORT in the guest firewall: firewalld, else ufw, else
# iptables. The rule is tagged cvmlogin:$CVMLOGIN_FIX_ID so the undo removes
# exactly it.
tag="cvmlogin:$CVMLOGIN_FIX_ID"
port="$CVMLOGIN_PORT/tcp"
if have firewall-cmd && firewall-cmd --state >/dev/null 2>&1; then
  if firewall-cmd --query-port="$port" >/dev/null 2>&1; then
    finish unchanged "firewalld already allows $port"
  fi
  firewall-cmd --add-port="$port" >/dev/null && firewall-cmd --permanent --add-port="$port" >/dev/null \
    || finish failed "firewall-cmd could not add $port"
  say repair_undo firewalld
  finish changed "firewalld now allows $port (runtime and permanent)"
fi
if have ufw && ufw status 2>/dev/null | grep -q '^Status: active'; then
  ufw allow "$port" comment "$tag" >/dev/null || finish failed "ufw could not allow $port"
  say repair_undo ufw
  finish changed "ufw now allows $port"
fi
if have iptables; then
  if iptables -C INPUT -p tcp --dport "$CVMLOGIN_PORT" -m comment --comment "$tag" -j ACCEPT 2>/dev/null; then
    finish unchanged "iptables already has the $tag rule"
  fi
  iptables -I INPUT 1 -p tcp --dport "$CVMLOGIN_PORT" -m comment --comment "$tag" -j ACCEPT \
    || finish failed "iptables could not insert the rule"
  say repair_undo iptables
  finish changed "iptables accepts $port first in INPUT (not saved: it lasts until the next reboot)"
fi
finish refused "no firewalld, ufw or iptables found: nothing to open"

# cvmlogin-script: fix_authorized_keys
# Gives the login user's ~/.ssh and authorized_keys the ownership and modes
# sshd's StrictModes requires (700 and 600, owned by the user; home not
# group- or world-writable). Key contents are never read or changed.
entry=$(getent passwd "$CVMLOGIN_USER") || finish refused "no user $CVMLOGIN_USER on the instance"
home=$(printf '%s' "$entry" | cut -d: -f6)
dir="$home/.ssh"
keys="$dir/authorized_keys"
[ -f "$keys" ] || finish refused "$keys does not exist: bind a key pair to the instance in the console"
group=$(id -gn "$CVMLOGIN_USER") || finish failed "no group for $CVMLOGIN_USER"
modes() { stat -c '%a %U:%G' "$home" "$dir" "$keys" | tr '\n' ';'; }
before=$(modes)
chown "$CVMLOGIN_USER:$group" "$dir" "$keys" && chmod 700 "$dir" && chmod 600 "$keys" && chmod go-w "$home" \
  || finish failed "could not set the modes (before: $before)"
after=$(modes)
say repair_before "$before"
if [ "$before" = "$after" ]; then
  finish unchanged "ownership and modes were already right: $after"
fi
finish changed "home, .ssh, authorized_keys now $after"

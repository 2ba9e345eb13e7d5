#!/bin/bash
# Installs CallTrack as a service: the binary, a config to edit, the secrets file and the systemd
# unit. `make install` runs it (as root); DESTDIR stages everything under a folder instead (packaging,
# tests), without creating the user or touching systemd. An existing config or secrets file is kept.
set -euo pipefail
binary=${1:?usage: install.sh BINARY}
prefix=${PREFIX:-/usr/local}
dest=${DESTDIR:-}
here=$(cd "$(dirname "$0")/.." && pwd)

install -D -m 755 "$binary" "$dest$prefix/bin/calltrack"
install -d -m 755 "$dest/etc/calltrack"
if [ ! -e "$dest/etc/calltrack/calltrack.yaml" ]; then
  install -m 644 "$here/config/calltrack.yaml" "$dest/etc/calltrack/calltrack.yaml"
fi
if [ ! -e "$dest/etc/calltrack/calltrack.env" ]; then
  umask 077
  printf 'CALLTRACK_ADMIN_TOKENS=%s\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$dest/etc/calltrack/calltrack.env"
  chmod 600 "$dest/etc/calltrack/calltrack.env"
fi
unit="$dest/etc/systemd/system/calltrack.service"
install -D -m 644 "$here/deploy/calltrack.service" "$unit"
sed -i "s|/usr/local/bin/calltrack|$prefix/bin/calltrack|" "$unit"
# A listen port below 1024 (SIP on 5060 and HTTP behind a proxy need none) needs one capability.
dropin="$dest/etc/systemd/system/calltrack.service.d/low-ports.conf"
# (A port follows a colon that does not belong to an IPv6 address: "[::1]:5060" has none below 1024.)
if grep -Eq '^[^#]*listen:.*[^:[]:([0-9]{1,3}|10[01][0-9]|102[0-3])([],[:space:]]|$)' "$dest/etc/calltrack/calltrack.yaml"; then
  install -d -m 755 "$(dirname "$dropin")"
  printf '[Service]\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n' > "$dropin"
else
  rm -f "$dropin"
fi
"$dest$prefix/bin/calltrack" check-config --config "$dest/etc/calltrack/calltrack.yaml" >/dev/null

if [ -z "$dest" ]; then
  id calltrack >/dev/null 2>&1 || useradd --system --home-dir /var/lib/calltrack --shell /usr/sbin/nologin calltrack
  chgrp calltrack /etc/calltrack/calltrack.env && chmod 640 /etc/calltrack/calltrack.env
  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  echo "installed; edit /etc/calltrack/calltrack.yaml, then: systemctl enable --now calltrack"
  echo "the admin token is in /etc/calltrack/calltrack.env"
fi

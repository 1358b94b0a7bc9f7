#!/usr/bin/env bash
# The system programs the test suite and benchmarks drive for real: Redis (standalone, Sentinel,
# Cluster), HAProxy, Prosody (a peer and a yardstick), and Debian's slixmpp (a third-party client).
# Installs what is missing when it can (root, or sudo without a password); otherwise says how.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v prosody >/dev/null 2>&1 || missing+=(prosody)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# Debian's Python packages load only in Debian's own interpreter, not a pyenv one first on PATH.
/usr/bin/python3 -c 'import slixmpp' >/dev/null 2>&1 || missing+=(python3-slixmpp)

[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing: ${missing[*]}. Install them with your system's package manager, then run the tests again." >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "Missing: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} from Debian's packages..."
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages' own services are not needed: tests start their servers on free loopback ports.
for service in redis-server redis-sentinel prosody haproxy; do
  "${sudo[@]}" service "$service" stop >/dev/null 2>&1 || true
done

#!/bin/sh
# Checks the units as installed: install.sh into a scratch root (or --root DIR,
# kept), the system's own unit files beside them (the units name its targets),
# then systemd-analyze verify (syntax, every setting, ExecStart's binaries
# present and executable in that root) and the timer's calendar expression.
#
#   deploy/systemd/verify.sh [--binary FILE] [--root DIR]
#
# Needs systemd-analyze (Debian: apt-get install systemd); nothing is started.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
binary=.build/release/pfp
root=""
while [ $# -gt 0 ]; do
    case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --root) root="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "verify.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done
command -v systemd-analyze >/dev/null || { echo "verify.sh: systemd-analyze is missing (apt-get install systemd)" >&2; exit 69; }
if [ -z "$root" ]; then
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
fi
"$here/install.sh" --root "$root" --binary "$binary" --no-enable >/dev/null
units=/usr/lib/systemd/system
[ -d "$units" ] || units=/lib/systemd/system
mkdir -p "$root/usr/lib/systemd"
cp -R "$units" "$root/usr/lib/systemd/"
cd "$root/etc/systemd/system"
systemd-analyze verify --root="$root" "$PWD/pfp-nightly.service" "$PWD/pfp-nightly.timer" "$PWD/pfp-alert@.service"
calendar=$(sed -n 's/^OnCalendar=//p' pfp-nightly.timer)
systemd-analyze calendar "$calendar" >/dev/null
echo "verified: pfp-nightly.service, pfp-nightly.timer ($calendar), pfp-alert@.service"

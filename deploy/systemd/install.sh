#!/bin/sh
# Installs pfp's nightly job as systemd units (docs/OPERATIONS.md).
#
#   deploy/systemd/install.sh [--root DIR] [--binary FILE] [--no-enable]
#
# --root DIR     install under DIR instead of / (a test, or an image being built);
#                no user is created and nothing is enabled or started
# --binary FILE  the pfp binary (default .build/release/pfp)
# --no-enable    install only; do not enable the timer
#
# Layout: /usr/local/bin/pfp; /opt/pfp/Pipelines (configuration and rule files,
# with nightly.conf's data paths pointed at /var/lib/pfp); /var/lib/pfp (inboxes
# as /var/lib/pfp/inbox/<date>, published runs, the database; owner-only);
# /etc/systemd/system/pfp-nightly.{service,timer}, pfp-alert@.service;
# /usr/local/lib/pfp/pfp-alert; pfp.prom into /var/lib/prometheus/node-exporter
# (Debian's node_exporter textfile directory).
set -eu
root=/
binary=.build/release/pfp
enable=yes
while [ $# -gt 0 ]; do
    case "$1" in
    --root) root="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --no-enable) enable=no; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
[ -x "$binary" ] || { echo "install.sh: no pfp binary at $binary; build it with 'make release'" >&2; exit 66; }
r=${root%/}
install -d -m 0755 "$r/usr/local/bin" "$r/usr/local/lib/pfp" "$r/opt/pfp" "$r/etc/systemd/system" "$r/etc/pfp"
install -d -m 0700 "$r/var/lib/pfp" "$r/var/lib/pfp/inbox"
install -d -m 0755 "$r/var/lib/prometheus/node-exporter"
install -m 0755 "$binary" "$r/usr/local/bin/pfp"
install -m 0755 "$here/pfp-alert" "$r/usr/local/lib/pfp/pfp-alert"
rm -rf "$r/opt/pfp/Pipelines" "$r/opt/pfp/docs"
cp -R "$project/Pipelines" "$project/docs" "$r/opt/pfp/"
cp "$project/README.md" "$r/opt/pfp/"
conf="$r/opt/pfp/Pipelines/nightly.conf"
sed -i \
    -e 's|^inbox = .*|inbox = /var/lib/pfp/inbox/{date}|' \
    -e 's|^out = .*|out = /var/lib/pfp/published|' \
    -e 's|^db = .*|db = /var/lib/pfp/pfp.sqlite|' \
    -e 's|^metrics_dir = .*|metrics_dir = /var/lib/prometheus/node-exporter|' \
    "$conf"
for u in pfp-nightly.service pfp-nightly.timer pfp-alert@.service; do
    install -m 0644 "$here/$u" "$r/etc/systemd/system/$u"
done
if [ "$r" = "" ]; then
    getent passwd pfp >/dev/null || useradd --system --home-dir /var/lib/pfp --shell /usr/sbin/nologin pfp
    chown -R pfp:pfp /var/lib/pfp
    chown pfp:pfp /var/lib/prometheus/node-exporter
    if [ "$enable" = yes ]; then
        systemctl daemon-reload
        systemctl enable --now pfp-nightly.timer
        systemctl list-timers pfp-nightly.timer --no-pager
    fi
fi
echo "installed under ${root}: deliveries go to /var/lib/pfp/inbox/<date>/"

#!/usr/bin/env bash
# Start a Docker engine in the background on a machine that has none running.
# Run with --help for details.
set -euo pipefail

LOG="/var/log/dockerd.log"
NETWORK_FLAGS=(--iptables=false --ip-forward=false --ip-masq=false --bridge=none)
DRIVERS=(overlay2 fuse-overlayfs vfs)

usage() {
    cat <<EOF
Usage: $(basename "$0") [--with-bridge] [--log FILE]

Makes sure a Docker engine answers on /var/run/docker.sock:
  - if 'docker info' already works, does nothing;
  - installs Debian's docker.io (dockerd 20.10, containerd, runc) with apt-get
    if dockerd is missing (about 10 s);
  - starts dockerd in the background, detached from this shell, logging to
    $LOG, trying the storage drivers ${DRIVERS[*]} in turn until one comes up
    (up to 30 s each; fuse-overlayfs is installed if it is needed).

By default the engine does not touch the host's networking: no docker0 bridge,
no iptables rules, no change to net.ipv4.ip_forward. Containers and builds
then need '--network host' (docker build --network host, docker run
--network host); without it they only have a loopback interface.

Options:
  --with-bridge  Docker's default networking instead (docker0, NAT through
                 iptables, ip_forward=1, FORWARD policy DROP); this changes the
                 host's firewall and can disturb other tests on the machine
  --log FILE     dockerd's log file (default: $LOG)
  -h, --help     show this help

Needs root. Stop the engine with: kill \$(cat /var/run/docker.pid)
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --with-bridge) NETWORK_FLAGS=(); shift ;;
        --log) LOG="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[start-docker-engine %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "must run as root"; exit 1; }

if docker info >/dev/null 2>&1; then
    log "an engine already answers: $(docker info --format '{{.ServerVersion}}, storage {{.Driver}}')"
    exit 0
fi

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v dockerd >/dev/null; then
    log "installing docker.io"
    apt_install docker.io
fi
command -v docker >/dev/null || { log "no docker client after installing docker.io"; exit 1; }

if [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    log "dockerd (pid $(cat /var/run/docker.pid)) runs but does not answer; see $LOG"
    exit 1
fi

for driver in "${DRIVERS[@]}"; do
    if [ "$driver" = fuse-overlayfs ] && ! command -v fuse-overlayfs >/dev/null; then
        apt_install fuse-overlayfs || { log "could not install fuse-overlayfs"; continue; }
    fi
    log "starting: dockerd --storage-driver $driver ${NETWORK_FLAGS[*]}"
    setsid dockerd --storage-driver "$driver" "${NETWORK_FLAGS[@]}" >>"$LOG" 2>&1 </dev/null &
    pid=$!
    for _ in $(seq 1 120); do
        if docker info >/dev/null 2>&1; then
            log "engine up (pid $pid, storage $driver, $(docker info --format '{{.ServerVersion}}')); log in $LOG"
            exit 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    log "dockerd with $driver did not come up; last lines of $LOG:"
    tail -n 5 "$LOG" >&2
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
log "no storage driver worked"
exit 1

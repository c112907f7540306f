#!/usr/bin/env bash
# Build a local stand-in for the official python:3.11-slim image with
# debootstrap, for machines whose Docker engine cannot pull from a registry.
# Run with --help for details.
set -euo pipefail

TAG="python:3.11-slim"
SUITE="bookworm"
MIRROR=""
SECURITY_MIRROR=""
WORKDIR="/var/tmp/make-base-image"
FORCE=0
HOST_CA=1
KEEP=0
MARKER_LABEL="org.infobip-events.base-image"

usage() {
    cat <<EOF
Usage: $(basename "$0") [options]

Builds a local stand-in for the official '$TAG' Docker image, for a machine
whose Docker engine cannot pull images from a registry, and imports it into
the local engine under that tag.

What it does:
  1. debootstrap --variant=minbase Debian $SUITE (Python 3.11) from the Debian
     mirror configured in /etc/apt/sources.list{,.d/*} (or --mirror), with
     python3, python3-pip, python3-venv and ca-certificates;
  2. applies the suite's updates and security updates from the same mirrors;
  3. makes it behave like the official image: /usr/local/bin/python,
     python3, pip and pip3; no EXTERNALLY-MANAGED marker, so 'pip install'
     as root works (packages go to /usr/local/lib/python3.11/dist-packages,
     scripts to /usr/local/bin); slim-style dpkg excludes for docs and man
     pages; no apt caches;
  4. copies this host's locally added CA certificates
     (/usr/local/share/ca-certificates/*.crt, e.g. a TLS-intercepting proxy's
     CA) into the image, so that pip inside 'docker build' reaches the
     package index as the host does (--no-host-ca to skip);
  5. 'docker import's the tree as '$TAG' with ENV PATH, LANG=C.UTF-8,
     PYTHON_VERSION and CMD ["python3"], and prints the image id.

Idempotent: if '$TAG' already exists and was made by this script, it prints
its id and exits without rebuilding (use --force to rebuild). The work tree
under --workdir is removed at the end.

Takes about 1-1.5 minutes on a 2-core machine with a nearby mirror (most of it
debootstrap); the image is about 150 MB. Needs root,
debootstrap (installed with apt-get if missing) and a running Docker engine.

Options:
  --tag TAG              image tag to create (default: $TAG)
  --mirror URL           Debian mirror (default: from the apt sources)
  --security-mirror URL  Debian security mirror (default: from the apt
                         sources; none if not configured)
  --workdir DIR          scratch directory (default: $WORKDIR)
  --no-host-ca           do not copy the host's local CA certificates
  --keep-rootfs          keep DIR/rootfs after importing
  --force                rebuild even if the tag exists
  -h, --help             show this help
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --tag) TAG="$2"; shift 2 ;;
        --mirror) MIRROR="$2"; shift 2 ;;
        --security-mirror) SECURITY_MIRROR="$2"; shift 2 ;;
        --workdir) WORKDIR="$2"; shift 2 ;;
        --no-host-ca) HOST_CA=0; shift ;;
        --keep-rootfs) KEEP=1; shift ;;
        --force) FORCE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[make-base-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot)"
command -v docker >/dev/null || die "no docker client on PATH"
docker info >/dev/null 2>&1 || die "no Docker engine answers ('docker info' fails); start one first"

existing="$(docker image inspect --format '{{.Id}} {{index .Config.Labels "'"$MARKER_LABEL"'"}}' "$TAG" 2>/dev/null || true)"
if [ -n "$existing" ] && [ "$FORCE" -eq 0 ]; then
    id="${existing%% *}"
    marker="${existing#* }"
    if [ "$marker" = "debootstrap-$SUITE" ]; then
        log "$TAG already exists (made by this script); --force to rebuild"
        echo "$id"
        exit 0
    fi
    die "$TAG exists but was not made by this script (id $id); remove it or use --force"
fi

# --- Debian mirrors from the apt configuration ------------------------------
# Prints the URI of the first source (one-line or deb822) whose suites
# include exactly $1.
apt_uri_for_suite() {
    local want="$1" f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v s="$want" '$1 == "deb" {
            i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            if ($(i+1) == s) { print $i; exit } }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$want" '
            function flush() { if (isdeb && uri != "" && hit) { print uri; found = 1 } uri = ""; hit = 0; isdeb = 0 }
            /^[[:space:]]*$/ { flush(); if (found) exit; next }
            /^#/ { next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") isdeb = 1 }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
            tolower($1) == "enabled:" && tolower($2) == "no" { isdeb = 0 }
            END { if (!found) flush() }' "$f"
    done
}

if [ -z "$MIRROR" ]; then
    MIRROR="$(apt_uri_for_suite "$SUITE" | head -n1)"
    [ -n "$MIRROR" ] || die "no Debian mirror for '$SUITE' in the apt sources; pass --mirror URL"
fi
if [ -z "$SECURITY_MIRROR" ]; then
    SECURITY_MIRROR="$(apt_uri_for_suite "$SUITE-security" | head -n1)"
fi
log "mirror: $MIRROR; security mirror: ${SECURITY_MIRROR:-none}"

if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# --- debootstrap ------------------------------------------------------------
ROOTFS="$WORKDIR/rootfs"
cleanup() {
    for m in proc sys dev/pts; do
        if mountpoint -q "$ROOTFS/$m" 2>/dev/null; then umount -l "$ROOTFS/$m" || true; fi
    done
    if [ "$KEEP" -eq 0 ] && [ -d "$WORKDIR" ]; then rm -rf --one-file-system "$WORKDIR"; fi
}
trap cleanup EXIT

start=$SECONDS
rm -rf --one-file-system "$WORKDIR"
mkdir -p "$WORKDIR"
log "debootstrap --variant=minbase $SUITE (this is the slow part)"
debootstrap --variant=minbase \
    --include=python3,python3-pip,python3-venv,ca-certificates \
    "$SUITE" "$ROOTFS" "$MIRROR" >"$WORKDIR/debootstrap.log" 2>&1 \
    || { tail -n 30 "$WORKDIR/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
log "debootstrap done in $((SECONDS - start)) s"

# --- apt sources, updates, slim settings ------------------------------------
{
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$MIRROR" "$SUITE" "$SUITE"
    if [ -n "$SECURITY_MIRROR" ]; then
        printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$SECURITY_MIRROR" "$SUITE"
    fi
} >"$ROOTFS/etc/apt/sources.list.d/debian.sources"
: >"$ROOTFS/etc/apt/sources.list"

# as in the official Debian slim images
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
echo 'APT::Install-Recommends "false";' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-recommends"
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod +x "$ROOTFS/usr/sbin/policy-rc.d"

mount -t proc proc "$ROOTFS/proc"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
log "applying $SUITE-updates and security updates"
chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq && apt-get -y -qq -o Dpkg::Options::=--force-confold dist-upgrade' \
    >"$WORKDIR/upgrade.log" 2>&1 \
    || { tail -n 30 "$WORKDIR/upgrade.log" >&2; die "apt-get dist-upgrade in the chroot failed"; }

# --- host's locally added CA certificates ----------------------------------
# Debian keeps site CAs (e.g. a TLS-intercepting proxy's) in
# /usr/local/share/ca-certificates; the image gets the same ones.
if [ "$HOST_CA" -eq 1 ]; then
    shopt -s nullglob
    cas=(/usr/local/share/ca-certificates/*.crt)
    shopt -u nullglob
    if [ "${#cas[@]}" -gt 0 ]; then
        mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
        cp "${cas[@]}" "$ROOTFS/usr/local/share/ca-certificates/"
        chroot "$ROOTFS" update-ca-certificates >/dev/null 2>&1 \
            || die "update-ca-certificates in the chroot failed"
        log "added ${#cas[@]} host CA certificate(s) from /usr/local/share/ca-certificates"
    fi
fi

# --- make it look like the official image -----------------------------------
rm -f "$ROOTFS"/usr/lib/python3*/EXTERNALLY-MANAGED
for name in python python3; do ln -sf /usr/bin/python3 "$ROOTFS/usr/local/bin/$name"; done
for name in pip pip3; do ln -sf /usr/bin/pip3 "$ROOTFS/usr/local/bin/$name"; done

# tidy
chroot "$ROOTFS" sh -c 'apt-get clean' >/dev/null 2>&1 || true
umount "$ROOTFS/proc"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/log/*.log \
    "$ROOTFS"/var/log/apt/* "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* "$ROOTFS"/root/.cache
find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/*
: >"$ROOTFS/etc/resolv.conf"
: >"$ROOTFS/etc/hostname"
rm -f "$ROOTFS/usr/sbin/policy-rc.d"

PYVER="$(chroot "$ROOTFS" python3 -c 'import platform; print(platform.python_version())')"
case "$PYVER" in 3.11.*) ;; *) die "expected Python 3.11 in $SUITE, got $PYVER" ;; esac
chroot "$ROOTFS" python -m pip --version >/dev/null || die "python -m pip does not run in the tree"

# --- import -----------------------------------------------------------------
log "importing as $TAG (Python $PYVER)"
if [ "$FORCE" -eq 1 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
    docker image rm "$TAG" >/dev/null 2>&1 \
        || log "old $TAG is still used by a container; it stays as an untagged image"
fi
id="$(tar --numeric-owner --xattrs -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "ENV PYTHON_VERSION=$PYVER" \
    --change "LABEL $MARKER_LABEL=debootstrap-$SUITE" \
    --change 'CMD ["python3"]' \
    --message "debootstrap $SUITE minbase + python3 $PYVER (local stand-in for $TAG)" \
    - "$TAG")"
log "done in $((SECONDS - start)) s; $(docker image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')"
echo "$id"

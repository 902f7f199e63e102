#!/usr/bin/env bash
# The Dockerfile's base image, or a stand-in for it where no container registry is
# reachable: Debian bookworm (minbase) with Debian's Python 3.11, python3-venv and pip,
# built by debootstrap from Debian's packages, imported and tagged with the name the
# Dockerfile uses.  The tarball is cached, so a rerun only imports it (a few seconds),
# and nothing is done when the image is already there.
#   usage: base.sh ENGINE   (podman or docker)
set -euo pipefail
engine=${1:-podman}
cd "$(dirname "$0")/../.."
base=$(sed -n 's/^FROM \([^ ]*\).*/\1/p' Dockerfile | sort -u)
[ "$(printf '%s\n' "$base" | wc -l)" -eq 1 ] || { echo "image: one base expected, got: $base" >&2; exit 1; }
case "$base" in */*) full=$base ;; *) full=docker.io/library/$base ;; esac

if "$engine" image inspect "$full" >/dev/null 2>&1; then
    echo "image: base $full present"
    exit 0
fi
if timeout "${COPYGUARD_PULL_TIMEOUT:-60}" "$engine" pull -q "$full" >/dev/null 2>&1; then
    echo "image: base $full pulled"
    exit 0
fi

cache=${COPYGUARD_CACHE:-$HOME/.cache/copyguard}/base
tarball=$cache/debian-bookworm-python3.tar
if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || { echo "image: $full cannot be pulled and debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
    echo "image: $full cannot be pulled: building a stand-in with debootstrap (about a minute)"
    start=$(date +%s)
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$root.log" 2>&1 \
        || { tail -20 "$root.log" >&2; exit 1; }
    rm -f "$root.log"
    # python:3.11-slim answers to `python`; Debian's interpreter is python3.
    ln -sf python3 "$root/usr/bin/python"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    mkdir -p "$cache"
    tar -C "$root" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    echo "image: stand-in base built in $(( $(date +%s) - start ))s"
fi
"$engine" import -q \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    "$tarball" "$full" >/dev/null
echo "image: stand-in base imported as $full (Debian bookworm, Debian's Python 3.11)"

#!/usr/bin/env bash
# `make image`: the Dockerfile built into localhost/copyguard:latest, with podman (or docker
# where an engine runs).  Where the Dockerfile's base cannot be pulled, base.sh builds a
# stand-in from Debian's packages first.  The build reaches the package index through the
# host's network; where that needs the host's CA bundle (a TLS proxy), it is mounted
# read-only with a pip.conf naming it, so the Dockerfile is unchanged.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/image/engine.sh
bash tests/image/base.sh "$ENGINE"

ca=${COPYGUARD_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
extra=()
if [ -s "$ca" ]; then
    conf=$(mktemp)
    trap 'rm -f "$conf"' EXIT
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$conf"
    chmod 644 "$conf"
    if [ "$ENGINE" = podman ]; then
        extra=(-v "$ca:/etc/ssl/certs/ca-certificates.crt:ro" -v "$conf:/etc/pip.conf:ro")
    fi
fi
start=$(date +%s)
"$ENGINE" build "${BUILD_FLAGS[@]}" "${extra[@]}" -t "$IMAGE" -f Dockerfile .
size=$("$ENGINE" image inspect --format '{{.Size}}' "$IMAGE")
echo "image: $IMAGE built in $(( $(date +%s) - start ))s, $(( size / 1000000 )) MB"

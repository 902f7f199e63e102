# Sourced by the image scripts: ENGINE (docker where an engine answers, else podman) and
# the flags this kind of machine needs.  podman: runc, not crun (crun fails on hybrid
# cgroups), and explicit ulimits (the defaults exceed what a rootful container may get here).
if [ -z "${ENGINE:-}" ]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        ENGINE=docker
    elif command -v podman >/dev/null; then
        ENGINE=podman
    else
        echo "image: neither a docker engine nor podman (apt-get install podman runc)" >&2
        exit 1
    fi
fi
IMAGE=${COPYGUARD_IMAGE:-localhost/copyguard:latest}
if [ "$ENGINE" = podman ]; then
    nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] || [ "$nofile" -gt 16384 ] && nofile=16384
    nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
    RUN_FLAGS=(--runtime "${PODMAN_RUNTIME:-runc}" --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
    BUILD_FLAGS=(--format docker --runtime "${PODMAN_RUNTIME:-runc}" --network host)
else
    RUN_FLAGS=()
    BUILD_FLAGS=(--network host)
fi
export ENGINE IMAGE

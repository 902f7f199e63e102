# Sourced by the image scripts: ENGINE (docker where an engine answers, else podman), IMAGE,
# and the build flags.  The run flags (runc, explicit ulimits) are in tests/image/conftest.py.
# Debian's packages for podman here (catatonit: a pod's infra container; iptables: hostPort;
# debootstrap: the stand-in base), installed when missing and we are root on Debian.
PODMAN_PKGS="podman runc catatonit iptables debootstrap"
need_podman_pkgs() {
    # shellcheck disable=SC2086
    dpkg -s $PODMAN_PKGS >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "image: installing $PODMAN_PKGS"
        apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $PODMAN_PKGS >/dev/null
    else
        echo "image: need $PODMAN_PKGS (apt-get install $PODMAN_PKGS) or a docker engine" >&2
        exit 1
    fi
}
if [ -z "${ENGINE:-}" ]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        ENGINE=docker
    else
        ENGINE=podman
    fi
fi
[ "$ENGINE" != podman ] || need_podman_pkgs
IMAGE=${COPYGUARD_IMAGE:-localhost/copyguard:latest}
if [ "$ENGINE" = podman ]; then
    # runc: crun fails on hybrid cgroups; --format docker keeps the HEALTHCHECK.
    BUILD_FLAGS=(--format docker --runtime "${PODMAN_RUNTIME:-runc}" --network host)
else
    BUILD_FLAGS=(--network host)
fi
export ENGINE IMAGE

# SPDX-License-Identifier: MIT
# Sourced by the ci/ scripts that install Debian packages (POSIX sh).
# They run as root, or as a user with sudo: TPOLL_SUDO is the prefix of
# each command that changes the system (sudo unless root).
if [ -z "${TPOLL_SUDO+set}" ] && [ "$(id -u)" -ne 0 ]; then
    TPOLL_SUDO=sudo
fi

as_root() {
    ${TPOLL_SUDO:-} "$@"
}

apt_get() {
    ${TPOLL_SUDO:-} env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=900 -y -q "$@"
}

# A mirror mid-sync fails one index now and then (foreign architectures
# added by ci/cross.sh make it likelier); the lists already fetched are
# usually enough: retry once, then go on with them.
apt_update() {
    echo "apt-get update"
    apt_get update >/dev/null || apt_get update >/dev/null ||
        echo "warning: apt-get update failed, using the package lists at hand" >&2
}

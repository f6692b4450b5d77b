# SPDX-License-Identifier: MIT
# Sourced by the ci/ scripts that install Debian packages (POSIX sh).
# TPOLL_SUDO: command prefix when not root (set by the caller).

apt_get() {
    ${TPOLL_SUDO:-} env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=900 -y -q "$@"
}

# A mirror mid-sync fails one index now and then (foreign architectures
# added by ci/cross.sh make it likelier); the lists already fetched are
# usually enough: retry once, then go on with them.
apt_update() {
    apt_get update >/dev/null || apt_get update >/dev/null ||
        echo "warning: apt-get update failed, using the package lists at hand" >&2
}

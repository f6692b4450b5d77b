# SPDX-License-Identifier: MIT
# Sourced by the scripts that test tpoll_http (POSIX sh): a scratch
# directory and the server's process, both gone when the script exits,
# and server_start.
dir=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

# server_start COMMAND...: runs the server with its output on fd 3, reads
# its banner and sets url, host and port from it. The servers get
# --seconds 60: that safety bound only matters if the script dies.
server_start() {
    rm -f "$dir/out"
    mkfifo "$dir/out"
    "$@" >"$dir/out" &
    pid=$!
    exec 3<"$dir/out"
    IFS= read -r banner <&3 || { echo "server did not start" >&2; exit 1; }
    echo "$banner"
    url=$(printf '%s\n' "$banner" | sed -n 's|.*\(http://[^ ]*\).*|\1|p')
    host=$(printf '%s\n' "$url" | sed -n 's|http://\([^:]*\):.*|\1|p')
    port=$(printf '%s\n' "$url" | sed -n 's|http://[^:]*:\([0-9]*\)/.*|\1|p')
    [ -n "$url" ] && [ -n "$host" ] && [ -n "$port" ] ||
        { echo "no URL in: $banner" >&2; exit 1; }
}

# server_wait: waits for the server (sent SIGTERM already), prints what it
# said last (kept in $dir/last) and fails unless it exited with 0.
server_wait() {
    rc=0
    wait "$pid" || rc=$?
    pid=
    cat <&3 >"$dir/last"
    exec 3<&-
    cat "$dir/last"
    [ "$rc" -eq 0 ] || { echo "server exited with $rc" >&2; exit 1; }
}

# server_kill: ends the server with SIGKILL and does not judge its exit.
# For the emulated kqueue and port backends, whose wake (kevent,
# port_send: a mutex and an allocation) is not async-signal-safe as the
# kernels' is, so a SIGTERM would run tpoll's handler into it
# (docs/kqueue.md); their clean exit is tested with --seconds instead.
server_kill() {
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    exec 3<&-
}

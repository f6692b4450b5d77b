#!/bin/sh
# SPDX-License-Identifier: MIT
# http_wrk.sh TPOLL_HTTP CHECK_LUA BACKEND [THREADS] [CONNECTIONS] [SECONDS]
# Runs tpoll_http on a loopback port and drives it with wrk (keep-alive,
# fixed connection count, a few seconds). Passes when wrk saw no error and
# every response was the exact hello answer, and the server stops cleanly.
# TRIGGER=edge in the environment passes --trigger edge to the server.
# Exit 77 (skipped) when wrk is not installed (Debian package wrk).
set -eu
server=$1 lua=$2 backend=$3
threads=${4:-2} conns=${5:-32} seconds=${6:-2}
command -v wrk >/dev/null || { echo "wrk not installed: skipped"; exit 77; }

. "$(dirname "$0")/http_server.sh"
server_start "$server" --port 0 --threads "$threads" --backend "$backend" \
    --seconds 60 --trigger "${TRIGGER:-level}"

wrk -t2 -c"$conns" -d"${seconds}s" -s "$lua" "$url" >"$dir/wrk.log" 2>&1 ||
    { cat "$dir/wrk.log"; exit 1; }
cat "$dir/wrk.log"

# No signal for the emulated kqueue and port backends (http_server.sh).
case $backend in
kqueue | port) server_kill ;;
*)
    kill -TERM "$pid"
    server_wait
    ;;
esac

# Edge-triggered on epoll: one registration call per connection (its
# add; tpoll_fd_close leaves the removal to the close), plus the
# listeners' adds.
if [ "${TRIGGER:-level}" = edge ] && [ "$backend" = epoll ]; then
    per=$(sed -n 's/.*(\([0-9.]*\) per connection.*/\1/p' "$dir/last")
    awk -v p="${per:-9}" 'BEGIN { exit !(p <= 1.1) }' ||
        { echo "FAILED: ${per:-no} registration calls per connection" >&2; exit 1; }
    echo "ok: $per registration calls per connection"
fi

line=$(grep '^wrk-check:' "$dir/wrk.log") || { echo "no wrk-check line" >&2; exit 1; }
val() { printf '%s\n' "$line" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
requests=$(val requests) checked=$(val checked) invalid=$(val invalid) errors=$(val errors)
if [ "$requests" -gt 0 ] && [ "$checked" -eq "$requests" ] &&
    [ "$invalid" -eq 0 ] && [ "$errors" -eq 0 ] &&
    ! grep -q 'Non-2xx' "$dir/wrk.log"; then
    echo "ok: $requests responses, all valid"
    exit 0
fi
echo "FAILED: $line" >&2
exit 1

#!/bin/bash
# SPDX-License-Identifier: MIT
# http_close.sh TPOLL_HTTP BACKEND
# The two ways tpoll_http closes a connection on its own, seen from a
# client (bash's /dev/tcp):
#   idle:     with --idle 300, a connection that got its answer and then
#             says nothing is closed by the server (the client reads EOF)
#             while the server keeps running;
#   shutdown: with --idle 0 (never), SIGTERM stops the server with a
#             connection open; it closes it, frees it (a sanitizer build
#             fails the exit on a leak) and exits 0, after saying it
#             served the one request. On the emulated kqueue and port
#             backends no signal is sent at all: the emulations' wake
#             (kevent, port_send under a mutex, with an allocation) is not
#             async-signal-safe, as the kernels' is, and ThreadSanitizer
#             rightly fails a handler that calls it. There the idle phase
#             ends with SIGKILL and the shutdown comes from --seconds 3.
# Every wait is a blocking read of what the server sends; `timeout` only
# bounds a server that never answers.
set -eu
server=$1 backend=$2

. "$(dirname "$0")/http_server.sh"

# start IDLE_MS [SECONDS]
start() {
    server_start "$server" --port 0 --threads 2 --backend "$backend" \
        --idle "$1" --seconds "${2:-60}"
}

# ask: opens connection fd 4 and reads the answer to one request (the
# response ends with the body "hello").
ask() {
    exec 4<>"/dev/tcp/$host/$port"
    printf 'GET / HTTP/1.1\r\nHost: t\r\n\r\n' >&4
    while IFS= read -r -t 20 line <&4; do
        [ "$line" = hello ] && return 0
    done
    echo "no answer on the connection" >&2
    exit 1
}

# until_eof: reads the connection until the server closes it.
until_eof() {
    if ! timeout 20 cat <&4 >"$dir/rest"; then
        echo "the server did not close the connection" >&2
        exit 1
    fi
    [ ! -s "$dir/rest" ] || { echo "unexpected data:"; cat "$dir/rest"; exit 1; } >&2
    exec 4<&-
}

# finish N: waits for the server (sent SIGTERM already) and checks that it
# served N requests on N connections.
finish() {
    server_wait
    grep -q "served $1 requests on $1 connections" "$dir/last" ||
        { echo "expected $1 requests on $1 connections" >&2; exit 1; }
}

start 300
ask
until_eof
echo "idle: closed by the server"
# Still serving after closing an idle connection.
ask
exec 4<&-
case $backend in
kqueue | port) server_kill ;;
*)
    kill -TERM "$pid"
    finish 2
    ;;
esac

case $backend in
kqueue | port)
    start 0 3
    ask
    ;;
*)
    start 0
    ask
    kill -TERM "$pid"
    ;;
esac
until_eof
echo "shutdown: the open connection was closed"
finish 1
echo "ok"

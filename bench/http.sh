#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/http.sh BUILD_DIR [ROUNDS]
# tpoll_http (epoll; level-triggered, and edge-triggered with --trigger
# edge) against the same hello server on libuv and on libev
# (bench_http_libuv, bench_http_libev), each with 1 and 2 server threads,
# all driven by one wrk command that checks every response
# (examples/http_check.lua). Each round runs every server once, in an
# order that rotates from round to round, so that a drift of the machine
# spreads over all of them. Prints a markdown table of the medians on
# stdout (progress on stderr); fails if any run saw an error or a wrong
# response. HTTP_BENCH_SECONDS (default 5) shortens wrk's runs to try the
# script.
#
# BUILD_DIR is a Release build with -DTPOLL_BUILD_BENCH=ON and libuv and
# libev installed. The load generator shares the machine with the
# servers: on a small machine the numbers are those of wrk and the server
# together, which the table says by naming the CPU and its core count.
set -eu
build=${1:?usage: bench/http.sh BUILD_DIR [ROUNDS]}
rounds=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
lua=$here/../examples/http_check.lua
wrk_args="-t2 -c64 -d${HTTP_BENCH_SECONDS:-5}s"
thread_counts="1 2"

tpoll=$build/examples/tpoll_http
tpoll_edge=$tpoll
libuv=$build/bench/bench_http_libuv
libev=$build/bench/bench_http_libev
for bin in "$tpoll" "$libuv" "$libev"; do
    [ -x "$bin" ] || { echo "missing $bin (build with -DTPOLL_BUILD_BENCH=ON, libuv1-dev and libev-dev)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 1; }

. "$here/../examples/http_server.sh"
results=$dir/results

# other_load: succeeds when something else keeps the machine busy: the
# project's tests, or the cores more than a fifth busy over 2 s with
# no server running (a test under an emulator escapes the names).
other_load() {
    pgrep -f 'ctest|ci/test.sh|\.ci/run' >/dev/null && return 0
    a=$(head -n 1 /proc/stat)
    sleep 2
    b=$(head -n 1 /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk '
        { idle[NR] = $5 + $6; total[NR] = 0
          for (i = 2; i <= NF; i++) total[NR] += $i }
        END { exit !(1 - (idle[2] - idle[1]) / (total[2] - total[1]) > 0.2) }'
}

# Other work beside the servers would be measured too: wait for it,
# checking every minute, for at most 30 minutes.
wait_quiet() {
    tries=0
    while other_load; do
        tries=$((tries + 1))
        [ "$tries" -le 30 ] || { echo "still busy after 30 min" >&2; exit 1; }
        echo "busy ($(uptime)), waiting 60 s" >&2
        sleep 60
    done
}

# run NAME BIN THREADS: one wrk run, its requests/s and the server's CPU
# time per request appended to the round's results. tpoll_edge is
# tpoll_http with edge-triggered connections.
run() {
    trigger=
    [ "$1" != tpoll_edge ] || trigger="--trigger edge"
    # shellcheck disable=SC2086
    server_start "$2" --port 0 --threads "$3" --backend epoll --seconds 120 \
        $trigger >&2
    wrk $wrk_args -s "$lua" "$url" >"$dir/wrk.log" 2>&1 ||
        { cat "$dir/wrk.log" >&2; exit 1; }
    # The server's CPU time over the run (it idles before and after):
    # wrk's share of the cores does not enter it.
    ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    kill -TERM "$pid"
    server_wait >&2
    line=$(grep '^wrk-check:' "$dir/wrk.log") ||
        { cat "$dir/wrk.log" >&2; echo "no wrk-check line" >&2; exit 1; }
    val() { printf '%s\n' "$line" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
    if [ "$(val requests)" -eq 0 ] || [ "$(val checked)" -ne "$(val requests)" ] ||
        [ "$(val invalid)" -ne 0 ] || [ "$(val errors)" -ne 0 ] ||
        grep -q 'Non-2xx\|Socket errors' "$dir/wrk.log"; then
        cat "$dir/wrk.log" >&2
        echo "FAILED: $1 with $3 thread(s): $line" >&2
        exit 1
    fi
    printf '%s\n' "$banner" | sed -n 's/.*backend \([^,]*\),.*/\1/p' >"$dir/label.$1"
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$dir/wrk.log")
    us=$(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v n="$(val requests)" \
        'BEGIN { printf "%.3f", t / hz * 1e6 / n }')
    echo "$1 $3 $rps $us" >>"$dir/round"
    echo "$1 threads=$3: $rps requests/s, server CPU $us us/request ($line)" >&2
}

servers="tpoll tpoll_edge libuv libev"
r=1 spoiled=0
while [ "$r" -le "$rounds" ]; do
    wait_quiet
    echo "round $r/$rounds ($(uptime))" >&2
    : >"$dir/round"
    for n in $thread_counts; do
        for name in $servers; do
            eval "run $name \"\$$name\" $n"
        done
    done
    # Work that started meanwhile spoils the round: it is run again.
    if other_load; then
        echo "other work started during round $r: it does not count" >&2
        spoiled=$((spoiled + 1))
        [ "$spoiled" -le "$rounds" ] || { echo "too many rounds spoiled" >&2; exit 1; }
        continue
    fi
    cat "$dir/round" >>"$results"
    # Rotate: tpoll tpoll_edge libuv libev, then tpoll_edge libuv libev
    # tpoll, ...
    servers="${servers#* } ${servers%% *}"
    r=$((r + 1))
done

# median SERVER THREADS COLUMN FORMAT
median() {
    awk -v s="$1" -v n="$2" -v c="$3" '$1 == s && $2 == n { print $c }' "$results" |
        sort -n | awk -v f="$4" '{ v[NR] = $1 }
            END { printf f, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# range SERVER THREADS: lowest and highest requests/s
range() {
    awk -v s="$1" -v n="$2" '$1 == s && $2 == n { print $3 }' "$results" |
        sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f–%.0f", lo, hi }'
}

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
echo "CPU: $cpu, $(nproc) cores (wrk -t2 runs on the same cores as the server)"
echo "Date: $(date -u +%Y-%m-%d), $(uname -sr), $rounds rounds"
echo "Command: wrk $wrk_args -s examples/http_check.lua URL"
echo
echo "| server | threads | requests/s (median of $rounds) | vs tpoll | range | server CPU µs/request | vs tpoll |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in $thread_counts; do
    base=$(median tpoll "$n" 3 %.0f)
    base_us=$(median tpoll "$n" 4 %.3f)
    for name in tpoll tpoll_edge libuv libev; do
        m=$(median "$name" "$n" 3 %.0f)
        us=$(median "$name" "$n" 4 %.3f)
        label=$(cat "$dir/label.$name")
        [ "$name" != tpoll ] || label="tpoll_http $label"
        [ "$name" != tpoll_edge ] || label="tpoll_http --trigger edge $label"
        ratio=$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
        ratio_us=$(awk -v a="$us" -v b="$base_us" 'BEGIN { printf "%.2f", a / b }')
        echo "| $label | $n | $m | $ratio | $(range "$name" "$n") | $us | $ratio_us |"
    done
done

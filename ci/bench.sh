#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerates every number, table and plot of docs/performance.md:
#   ci/bench.sh                 # default sizes, a few minutes on 2 cores
# Environment: BUILD (build dir), OUT (raw results), ROUNDS (rounds per
# wall-clock measurement), W (ring writes per round), QUICK=1 (smaller
# sizes, for trying the script). Needs cmake, a C compiler, valgrind,
# gnuplot and python3; libev-dev, libevent-dev and libuv1-dev are optional
# (a missing peer is skipped with a message).
set -eu

# The instructions a command runs in user space (callgrind).
collected() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 \
        >/dev/null | awk '/Collected/ {print $4}'
}

# One callgrind measurement: user-space instructions per dispatched event
# as the difference of two runs that differ only in W, so that start-up,
# fd creation and setup cancel out.
if [ "${1:-}" = --callgrind ]; then
    ir() {
        collected "$B/bench_ring" ${CG_MT:+-m} -i "$1" -p "$2" -a "$3" \
            -w "$4" -r 1
    }
    x=$(ir "$2" "$3" "$4" "$5")
    y=$(ir "$2" "$3" "$4" "$6")
    echo "callgrind impl=$2 P=$3 A=$4 W1=$5 W2=$6 mt=${CG_MT:-0} instr_per_event=$(( (y - x) / ($6 - $5) ))"
    exit 0
fi
# Instructions per cross-thread call, posted and run (bench_calls -s: one
# thread posting batches of 200 to its own loop), the same way.
if [ "${1:-}" = --calls-callgrind ]; then
    x=$(collected "$B/bench_calls" -r 1 -o "$2" -s 200 -n 40000)
    y=$(collected "$B/bench_calls" -r 1 -o "$2" -s 200 -n 120000)
    echo "calls_cg impl=$2 instr_per_call=$(( (y - x) / 80000 ))"
    exit 0
fi

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-/tmp/tpoll-bench-build}
OUT=${OUT:-$BUILD/results}
ROUNDS=${ROUNDS:-9}
W=${W:-30000}
QUICK=${QUICK:-0}

# Every socketpair costs two fds; keep some for the loops' own fds.
LIMIT=$(ulimit -n)
PMAX=$(( (LIMIT - 64) / 2 / 100 * 100 ))
PS="100 1000 5000 $PMAX"
CG_PS="100 1000 $PMAX"
if [ "$QUICK" = 1 ]; then
    ROUNDS=3; W=10000; PS="100 1000"; CG_PS="100 1000"
fi

cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTPOLL_BUILD_BENCH=ON \
    -DTPOLL_BUILD_TESTS=OFF -DTPOLL_BUILD_EXAMPLES=OFF >"$BUILD.configure.log"
grep 'bench:' "$BUILD.configure.log" || true
cmake --build "$BUILD" -j2 --target bench_ring bench_threads bench_listener \
    bench_wake bench_memory bench_timers bench_calls >/dev/null
B=$BUILD/bench
rm -rf "$OUT"
mkdir -p "$OUT"

{
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "cores=$(nproc)"
    echo "kernel=$(uname -sr)"
    echo "virt=$(systemd-detect-virt 2>/dev/null || echo unknown)"
    echo "fd_limit=$LIMIT"
    echo "cc=$(${CC:-cc} --version | head -n 1)"
    echo "libev=$(dpkg-query -W -f '${Version}' libev-dev 2>/dev/null || echo n/a)"
    echo "libevent=$(pkg-config --modversion libevent 2>/dev/null || echo n/a)"
    echo "libuv=$(pkg-config --modversion libuv 2>/dev/null || echo n/a)"
    echo "valgrind=$(valgrind --version)"
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
} >"$OUT/machine.txt"

# Implementations by cost class: readiness lists (O(active)) and scans
# (O(registered) per iteration), which get fewer writes at large P.
all=$("$B/bench_ring" -h 2>&1 | sed -n 's/^implementations: //p')
fast="" scan="epoll"
for i in $all; do
    case $i in
    poll | tpoll-poll | tpoll-select) scan="$scan,$i" ;;
    tpoll-kqueue | tpoll-port) ;; # test-only emulations, not real pollers
    *) fast="${fast:+$fast,}$i" ;;
    esac
done
echo "ring implementations: $fast | $scan"

echo "== ring (wall clock)"
for p in $PS; do
    for a in 1 100; do
        "$B/bench_ring" -i "$fast" -p "$p" -a "$a" -w "$W" -r "$ROUNDS" |
            tee -a "$OUT/ring.txt"
        ws=$(( 5000000 / p )); [ "$ws" -gt "$W" ] && ws=$W
        [ "$ws" -lt 1000 ] && ws=1000
        [ "$a" = 100 ] && ws=$W
        "$B/bench_ring" -i "$scan" -p "$p" -a "$a" -w "$ws" -r "$ROUNDS" |
            grep -v 'impl=epoll ' | tee -a "$OUT/ring.txt"
    done
done

# epoll-table, a prototype run only by name, is the floor of a library
# with tpoll's callback contract and no thread safety (bench/ring_table.c).
echo "== ring (instructions per event, callgrind)"
for p in $CG_PS; do
    for a in 1 100; do
        for i in $(echo "$fast,$scan,epoll-table" | tr , ' '); do
            case $i in
            poll | tpoll-poll | tpoll-select) echo "$i $p $a 500 1500" ;;
            *) echo "$i $p $a 5000 15000" ;;
            esac
        done
    done
done | awk '!seen[$0]++' |
    # Instruction counts do not depend on load: two at a time.
    B=$B xargs -P 2 -L 1 sh "$SRC/ci/bench.sh" --callgrind |
    tee "$OUT/callgrind.txt"

# glibc takes a heavier path in every system-call wrapper once a process
# has a second thread: the same loops, measured in such a process.
echo "== ring in a multi-threaded process (instructions per event, callgrind)"
for a in 1 100; do
    for i in $(echo "$fast,epoll-table" | tr , ' '); do
        echo "$i 1000 $a 5000 15000"
    done
done | CG_MT=1 B=$B xargs -P 2 -L 1 sh "$SRC/ci/bench.sh" --callgrind |
    tee "$OUT/callgrind_mt.txt"

echo "== timers"
if [ "$QUICK" = 1 ]; then
    "$B/bench_timers" -r "$ROUNDS" -n 10000 | tee "$OUT/timers.txt"
else
    "$B/bench_timers" -r "$ROUNDS" -n 10000 -n 1000000 | tee "$OUT/timers.txt"
fi

echo "== cross-thread calls"
"$B/bench_calls" -r "$ROUNDS" | tee "$OUT/calls.txt"
"$B/bench_calls" -r "$ROUNDS" -p 2 -n 1000000 | tee -a "$OUT/calls.txt"
sed -n 's/^calls impl=\([^ ]*\) producers=1 .*/\1/p' "$OUT/calls.txt" |
    B=$B xargs -P 2 -L 1 sh "$SRC/ci/bench.sh" --calls-callgrind |
    tee "$OUT/calls_cg.txt"

echo "== threads"
"$B/bench_threads" -r 3 | tee "$OUT/threads.txt"

echo "== shared listener"
for t in 1 2; do
    "$B/bench_listener" -t "$t" -n 2000 | tee -a "$OUT/listener.txt"
done

echo "== wake"
"$B/bench_wake" -n 20000 -r "$ROUNDS" | tee "$OUT/wake.txt"

echo "== memory"
"$B/bench_memory" | tee "$OUT/memory.txt"

echo "== report"
python3 "$SRC/bench/report.py" "$OUT" "$SRC/docs/performance.md" "$SRC/docs/img"

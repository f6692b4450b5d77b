#!/bin/sh
# SPDX-License-Identifier: MIT
# System calls per dispatched event of bench_ring, in all and by kind:
# `strace -f -c` of two runs that differ only in W (ring writes), so that
# start-up, fd creation and registration cancel out, as ci/bench.sh does
# with callgrind for instructions.
#   bench/syscalls.sh BENCH_RING IMPL P A [W1 W2]
# prints one line:
#   syscalls impl=IMPL P=P A=A per_event=N.NNN io_uring_enter=... ...
# Every kind of call the difference holds is listed, with its calls per
# event. Needs strace.
set -eu
ring=$1 impl=$2 p=$3 a=$4 w1=${5:-10000} w2=${6:-30000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "calls syscall" lines of one run (the errors column may be empty).
count() {
    strace -f -c -o "$tmp/strace" "$ring" -i "$impl" -p "$p" -a "$a" \
        -w "$1" -r 1 >/dev/null
    awk '$1 ~ /^[0-9.]+$/ && $4 ~ /^[0-9]+$/ { print $4, $NF }' \
        "$tmp/strace" | sort -k2 >"$2"
}

count "$w1" "$tmp/one"
count "$w2" "$tmp/two"
join -1 2 -2 2 -a 2 -e 0 -o 0,1.1,2.1 "$tmp/one" "$tmp/two" |
    awk -v impl="$impl" -v p="$p" -v a="$a" -v n=$((w2 - w1)) '
        $1 != "total" { d = ($3 - $2) / n; if (d >= 0.0005) kinds = kinds sprintf(" %s=%.3f", $1, d) }
        $1 == "total" { total = ($3 - $2) / n }
        END { printf "syscalls impl=%s P=%s A=%s per_event=%.3f%s\n", impl, p, a, total, kinds }'

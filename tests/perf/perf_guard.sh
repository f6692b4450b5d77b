#!/bin/sh
# SPDX-License-Identifier: MIT
# perf_guard.sh PERF_RING BUDGETS
# Instruction budgets, guarded: callgrind counts instructions, which do
# not depend on the machine's load, so they can fail a build where wall
# time could not. Each figure is the difference of two runs that differ
# only in the amount of work (start-up and setup cancel out), and the
# per-event figures are tpoll's cost over a bare epoll loop doing the same
# reads and writes in the same binary (the C library's share cancels out
# too). A figure more than 3% over its budget fails; a budget changes only
# in a commit that says why. Exit 77 (skipped) without valgrind.
set -eu
ring=$1 budgets=$2
command -v valgrind >/dev/null || { echo "valgrind missing: skipped"; exit 77; }

ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$ring" "$@" \
        2>&1 >/dev/null | awk '/Collected/ {print $4}'
}

# per_unit UNITS1 UNITS2 ARGS1... -- ARGS2...
per_event() { # impl P A
    a=$(ir event "$1" "$2" "$3" 2000)
    b=$(ir event "$1" "$2" "$3" 6000)
    echo $(( (b - a) / 4000 ))
}

over_bare() { # P A
    t=$(per_event tpoll "$1" "$2")
    e=$(per_event bare "$1" "$2")
    echo $(( t - e ))
}

rereg=$(( ($(ir rereg 200 15) - $(ir rereg 200 5)) / (10 * 200) ))
call=$(( ($(ir calls 200 600) - $(ir calls 200 200)) / (400 * 200) ))
a1=$(over_bare 100 1)
a64=$(over_bare 128 64)

status=0
printf '%-28s %10s %10s  %s\n' figure measured budget verdict
for line in "event_overhead_a1 $a1" "event_overhead_a64 $a64" \
            "rereg_per_fd $rereg" "call_per_call $call"; do
    set -- $line
    budget=$(awk -v k="$1" '$1 == k {print $2}' "$budgets")
    if [ -z "$budget" ]; then
        echo "no budget for $1 in $budgets" >&2
        exit 1
    fi
    verdict=ok
    if [ $(( $2 * 100 )) -gt $(( budget * 103 )) ]; then
        verdict="OVER BUDGET"
        status=1
    elif [ $(( $2 * 100 )) -lt $(( budget * 90 )) ]; then
        verdict="ok (10% under: lower the budget)"
    fi
    printf '%-28s %10s %10s  %s\n' "$1" "$2" "$budget" "$verdict"
done
exit $status

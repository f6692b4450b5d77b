#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Model-checks one Promela model exhaustively and checks the expectation.
# Usage: tests/model/check.sh MODEL.pml [fixed|bug|bugN] [-DOPTION ...]
#   fixed  the protocol as specified: the search must find no error
#   bug    -DBUG (bugN: -DBUG=N): a defect the model's header describes;
#          the search must find at least one, whose trail is printed
#   -D...  further model options (e.g. -DPSO), passed to spin
# Exit: 0 when the expectation holds, 1 when not, 77 when spin is missing.
set -euo pipefail

usage() {
    echo "usage: $0 MODEL.pml [fixed|bug|bugN] [-DOPTION ...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
model=$1
variant=${2:-fixed}
shift $(($# >= 2 ? 2 : 1))
[ -f "$model" ] || { echo "check.sh: no such model: $model" >&2; exit 2; }
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")

defs=()
case $variant in
fixed) ;;
bug) defs+=(-DBUG) ;;
bug[0-9]*) defs+=("-DBUG=${variant#bug}") ;;
*) usage ;;
esac
for d in "$@"; do
    case $d in -D*) defs+=("$d") ;; *) usage ;; esac
done

if ! command -v spin >/dev/null; then
    echo "check.sh: SKIP: spin is not installed (apt-get install spin, or ci/deps.sh)"
    exit 77
fi
cc=${CC:-cc}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tpoll-model.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cp "$model" "$scratch/"
cd "$scratch"
src=$(basename "$model")

# Exhaustive search only: no bitstate hashing. Assertions, invalid end
# states and the models' timeout checks are safety properties, so SAFETY
# compiles out the cycle detection; COLLAPSE compresses state vectors.
# MEMLIM (MB) turns a state explosion into a clear failure, not swapping.
memlim=${TPOLL_MODEL_MEMLIM:-2048}
depth=${TPOLL_MODEL_DEPTH:-1000000}
spin -a "${defs[@]}" "$src" >spin.out 2>&1 || {
    cat spin.out
    echo "check.sh: FAIL: spin -a rejected $(basename "$model") ${defs[*]}"
    exit 1
}
# A bug run searches breadth-first: the counterexample is a shortest one.
search=()
[ "$variant" = fixed ] || search=(-DBFS)
"$cc" -O2 -w -DSAFETY -DCOLLAPSE "${search[@]}" -DMEMLIM="$memlim" -o pan pan.c
# A model may ask for run-time options on a line of its own:
#   /* check.sh: pan -E */
panflags=$(sed -n 's|^/\* check\.sh: pan \(.*\) \*/$|\1|p' "$src")
start=$(date +%s.%N)
# shellcheck disable=SC2086
./pan -m"$depth" -c1 $panflags >pan.out 2>&1 || true
end=$(date +%s.%N)

errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | tail -1)
states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | head -1)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
name="$(basename "$model") $variant${defs[*]:+ (${defs[*]})}"
echo "check.sh: $name: ${states:-?} states, ${errors:-?} errors, ${secs}s"

# A search cut short proves nothing either way. pan also says "not
# completed" when it stops at the first error, which is a result.
if [ -z "$errors" ] ||
    grep -q "max search depth too small\|reached -DMEMLIM bound\|out of memory" pan.out ||
    { [ "$errors" -eq 0 ] && grep -q "Search not completed" pan.out; }; then
    cat pan.out
    echo "check.sh: FAIL: $name: the search did not complete"
    exit 1
fi

# The trail as spin -t -p replays it, without variable dumps and the
# control-flow and store-buffer plumbing: the models' printf narration
# and the protocol's own statements remain.
trail() {
    spin -t -p "${defs[@]}" "$src" |
        grep -v -P '^\t\t|\[printf\(|\[(DO|IF|break|else|\.\(goto\)|sub-sequence|\(1\))\]|\[goto |fi_[ij]|sb_' |
        head -n "${TPOLL_MODEL_TRAIL:-120}" || true # head may close the pipe early
}

if [ "$variant" = fixed ]; then
    if [ "$errors" -ne 0 ]; then
        cat pan.out
        echo "--- counterexample (spin -t -p, filtered) ---"
        trail
        echo "check.sh: FAIL: $name: the fixed protocol has a counterexample"
        exit 1
    fi
    exit 0
fi

if [ "$errors" -eq 0 ]; then
    cat pan.out
    echo "check.sh: FAIL: $name: the bug variant found no error (the model no longer reproduces it)"
    exit 1
fi
grep -E "assertion violated|invalid end state|acceptance cycle|non-progress" pan.out | head -3
echo "--- counterexample (spin -t -p, filtered, first ${TPOLL_MODEL_TRAIL:-120} lines) ---"
trail
exit 0

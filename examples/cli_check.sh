#!/bin/sh
# SPDX-License-Identifier: MIT
# The examples' command line, as a user meets it:
#   cli_check.sh help PROGRAM OPTION...
#     PROGRAM --help exits 0 and lists each OPTION with its default; a
#     wrong option exits 2 with the usage on stderr.
#   cli_check.sh error PROGRAM RETURN ARG...
#     PROGRAM ARG... fails (exit 1) and prints the library's own error:
#     the message of the errno it returned, and "tpoll returned RETURN".
# EMULATOR (environment): what runs a cross-compiled PROGRAM (qemu-user).
set -eu
mode=$1 prog=$2
shift 2
run() {
    # shellcheck disable=SC2086
    ${EMULATOR:-} "$prog" "$@"
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
case $mode in
help)
    run --help >"$out" 2>&1 || { cat "$out"; echo "--help failed" >&2; exit 1; }
    cat "$out"
    for opt in "$@"; do
        # The option's line, or the line after it, gives the default.
        sed -n "/^ *$opt /{N;p;}" "$out" | grep -q '(default: ' ||
            { echo "--help does not give $opt with its default" >&2; status=1; }
    done
    rc=0
    run --no-such-option x >/dev/null 2>"$out" || rc=$?
    [ "$rc" -eq 2 ] && grep -q '^usage:' "$out" ||
        { echo "a wrong option: exit $rc, not 2 with the usage" >&2; status=1; }
    ;;
error)
    want=$1
    shift
    rc=0
    run "$@" >/dev/null 2>"$out" || rc=$?
    cat "$out"
    [ "$rc" -eq 1 ] || { echo "exit $rc, not 1" >&2; status=1; }
    grep -q "(tpoll returned $want)\$" "$out" ||
        { echo "no \"tpoll returned $want\" in the error" >&2; status=1; }
    ;;
*)
    echo "usage: $0 help|error PROGRAM ..." >&2
    exit 2
    ;;
esac
exit $status

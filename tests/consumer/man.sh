#!/bin/sh
# SPDX-License-Identifier: MIT
# man.sh PREFIX MANDIR HEADER
# Every function that tpoll.h exports has a page that `man` finds in the
# installed prefix, `man tpoll_wait` shows it, and groff warns about none.
set -eu
prefix=$1 mandir=$2 header=$3
command -v man >/dev/null || { echo "man missing"; exit 77; }
MANPATH=$prefix/$mandir
export MANPATH
funcs=$(sed -n 's/^TPOLL_API[^(]*[ *]\(tpoll_[a-z0-9_]*\)(.*/\1/p' "$header")
[ -n "$funcs" ] || { echo "no TPOLL_API function in $header" >&2; exit 1; }
status=0
for f in tpoll $funcs; do
    man -w "$f" >/dev/null 2>&1 || { echo "no man page for $f" >&2; status=1; }
done
man -P cat tpoll_wait 2>/dev/null | grep -q 'tpoll_wait - run one' ||
    { echo "man tpoll_wait does not show its page" >&2; status=1; }
if command -v groff >/dev/null; then
    cd "$MANPATH"
    for p in man3/*.3; do
        out=$(groff -s -man -Tutf8 -ww -z "$p" 2>&1)
        [ -z "$out" ] || { echo "$p: $out" >&2; status=1; }
    done
fi
exit $status

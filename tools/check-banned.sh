#!/bin/sh
# check-banned.sh - fail if project C code calls an unbounded string
# function: sprintf, strcpy, strcat, atoi, gets, or scanf-family calls
# with a bare %s.  Prints each offending line.
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
bad=$(grep -nE '(^|[^_a-zA-Z0-9])(sprintf|vsprintf|strcpy|strcat|atoi|atol|gets|stpcpy)[[:space:]]*\(' \
    $(git ls-files '*.c' '*.h' 2>/dev/null || find . -path ./build -prune -o -name '*.[ch]' -print) 2>/dev/null)
scan=$(grep -nE 'scanf[[:space:]]*\([^;]*%s' \
    $(git ls-files '*.c' '*.h' 2>/dev/null || find . -path ./build -prune -o -name '*.[ch]' -print) 2>/dev/null)
if [ -n "$bad$scan" ]; then
	echo "banned functions in use:" >&2
	printf '%s\n%s\n' "$bad" "$scan" | sed '/^$/d' >&2
	exit 1
fi
exit 0

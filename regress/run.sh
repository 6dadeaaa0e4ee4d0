#!/bin/sh
# Run every test named on the command line, count the PASS/FAIL/SKIP
# lines each prints, and end with "N passed, N failed, N skipped".
# A test that exits non-zero without printing a FAIL line counts as one
# failure, so a crash is never mistaken for success.  With VALGRIND set
# (make check does unless SANITIZE=1), compiled tests run under it and a
# leak or memory error fails them.

pass=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$@"; do
	echo "==> $t"
	case $t in
	*.sh)	bash "$t" >"$log" 2>&1 ;;
	*)	$VALGRIND "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	cat "$log"
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	s=$(grep -c '^SKIP ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $t: exited with status $rc"
		f=1
	fi
	if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
		echo "FAIL $t: ran no check"
		f=1
	fi
	pass=$((pass + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
done

echo "$pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

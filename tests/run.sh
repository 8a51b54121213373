#!/bin/sh
# Runs every test binary and suite given, then prints the total "N passed, N failed".
# Each part prints its own "N passed, N failed" line; this adds them up.
total_pass=0; total_fail=0
log=$(mktemp)
run_part() {
	"$@" >"$log" 2>&1
	status=$?
	cat "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $* (exit $status, no result line)"; total_fail=$((total_fail + 1)); return
	fi
	p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL $* exited $status"; fi
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}
for bin in "$@"; do
	echo "== $bin"
	run_part "$bin"
done
for suite in tests/cli/run.sh tests/api/*.sh tests/fuzz/replay.sh tests/ui/run.sh; do
	[ -f "$suite" ] || continue
	echo "== $suite"
	run_part sh "$suite"
done
rm -f "$log"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]

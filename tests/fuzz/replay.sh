#!/bin/sh
# Replays every fuzz corpus through its target (built by the Makefile with
# tests/fuzz/driver.c instead of libFuzzer). A crash or sanitizer report fails.
BUILD=${BUILD:-build}
passed=0; failed=0
for bin in "$BUILD"/fuzz/replay_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/replay_}
	dir=tests/fuzz/corpus/$name
	[ -d "$dir" ] || continue
	if out=$("$bin" "$dir"/* 2>&1); then
		n=$(echo "$out" | sed -n 's/^\([0-9]*\) passed.*/\1/p' | tail -n 1)
		echo "ok   fuzz corpus $name ($n inputs)"; passed=$((passed + 1))
	else
		echo "$out" | tail -n 20
		echo "FAIL fuzz corpus $name"; failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

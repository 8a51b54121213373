#!/bin/sh
# Crash test (RELIABILITY.md row 1): SIGKILL `crm serve` 25 times during
# acknowledged creates and updates; every acknowledged write must survive and
# PRAGMA integrity_check must be ok. See crash_test.py. SEED=n repeats a run.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM=${CRM:-build/crm}
if [ ! -x "$CRM" ]; then
	echo "FAIL crash: $CRM not built (run make)"
	echo "0 passed, 1 failed"
	exit 1
fi
CRM="$CRM" exec "$PYTHON" tests/api/crash_test.py

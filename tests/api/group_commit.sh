#!/bin/sh
# Group commit (core/store/store.c): concurrent writers share COMMITs, and a
# request that fails rolls back alone. See group_commit_test.py.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM=${CRM:-build/crm}
if [ ! -x "$CRM" ]; then
	echo "FAIL group_commit: $CRM not built (run make)"
	echo "0 passed, 1 failed"
	exit 1
fi
CRM="$CRM" exec "$PYTHON" tests/api/group_commit_test.py

#!/bin/sh
# RELIABILITY.md rows 2 (disk full: 507, nothing partial, serving resumes when
# space returns) and 4 (32 clients updating 10 records with If-Match: no 5xx,
# 412, final state = serial replay). See reliability_test.py.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM=${CRM:-build/crm}
if [ ! -x "$CRM" ]; then
	echo "FAIL reliability: $CRM not built (run make)"
	echo "0 passed, 1 failed"
	exit 1
fi
CRM="$CRM" exec "$PYTHON" tests/api/reliability_test.py

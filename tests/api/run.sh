#!/bin/sh
# The API suite: starts a real `crm serve` (from $CRM, default build/crm) on a
# free loopback port with a fresh database and tests/api/metadata, runs every
# route and the hostile-input cases (api_test.py, Python 3 standard library
# only), then stops the server with SIGTERM and checks that it exited 0.
# Prints "ok NAME" / "FAIL NAME" per test and "N passed, N failed" last.
# ONLY=substring runs a subset; KEEP=1 keeps the temporary directory.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM=${CRM:-build/crm}
if [ ! -x "$CRM" ]; then
	echo "FAIL api: $CRM not built (run make)"
	echo "0 passed, 1 failed"
	exit 1
fi
CRM="$CRM" exec "$PYTHON" tests/api/api_test.py

#!/bin/sh
# The authorization suite: starts a real `crm serve` (from $CRM, default build/crm) on a
# fresh `crm demo --records 60 --seed 7` database with the repo's metadata/ and plugins/,
# logs in as every demo role and checks the access matrix (list, get, count, aggregate,
# export, create, update, delete, restore, history, hidden-field filters/sorts/ref paths,
# batch), unauthenticated access, token revocation, CSRF, brute force, mass assignment,
# audit and "refused calls change nothing" (authz_test.py, Python 3 standard library only).
# Prints "ok NAME" / "FAIL NAME" per test and "N passed, N failed" last.
# ONLY=substring runs a subset; KEEP=1 keeps the temporary directory.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM=${CRM:-build/crm}
if [ ! -x "$CRM" ]; then
	echo "FAIL authz: $CRM not built (run make)"
	echo "0 passed, 1 failed"
	exit 1
fi
CRM="$CRM" exec "$PYTHON" tests/api/authz_test.py

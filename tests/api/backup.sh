#!/bin/sh
# Backup and restore (RELIABILITY.md row 5): `crm backup` under write load,
# restored and compared with the source at the backup point; refusals and
# the scheduled backup. See backup_test.py.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM=${CRM:-build/crm}
if [ ! -x "$CRM" ]; then
	echo "FAIL backup: $CRM not built (run make)"
	echo "0 passed, 1 failed"
	exit 1
fi
CRM="$CRM" exec "$PYTHON" tests/api/backup_test.py

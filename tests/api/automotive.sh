#!/bin/sh
# The automotive industry pack (plugins/automotive) over HTTP: a real `crm serve --industry automotive`
# on a fresh `crm --industry automotive demo` database. DOMAIN.md B6 scenarios 5 and 6 with other
# numbers too: a Munich lead goes to the nearest dealer with capacity (not the nearer one at its cap),
# moves on after the timeout (`crm timer lead_flow dealer_timeout --at T`) and after three dealers
# goes back to the lead centre's pool; a test drive done opens the opportunity (partner = dealer,
# amount = MSRP); a consumer books for their own VIN, 404 on another's, 422 on a bad one; dealer users
# see only their dealer's records; bad input; a smoke test of the demo's stories
# (automotive_test.py, Python 3 standard library only). ONLY=substring runs a subset, KEEP=1 keeps it.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/automotive_test.py

#!/bin/sh
# The implementer's contract (issue 21): the real-estate pack in tests/api/realestate/, written
# as an outside implementer first wrote it ($me and today() defaults, {en, zh} module and
# transition labels, a guard message, an approval to the requester's manager, a commission
# created by the workflow as the system), served by a real `crm serve` and walked through its
# story over REST (realestate_test.py, Python 3 standard library only).
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/realestate_test.py

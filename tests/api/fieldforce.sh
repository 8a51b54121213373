#!/bin/sh
# The fieldforce package (plugins/fieldforce): DOMAIN.md B6 scenarios 1-3 with their numbers and
# others (a check-in 72 m from the account passes, 2.1 km is flagged, and refused by a second server
# whose app.yaml says strict; check-out without a call report; completion 75% with 5 verified), the
# roles (a rep cannot write the stamps nor read another team's visits; the manager approves), the
# rep's day, the missed timer through `crm timer visit_flow missed --at T`, bad input and 32
# concurrent check-ins, over REST against a real `crm serve` on a `crm demo` database of the shipped
# metadata/ and plugins/ (fieldforce_test.py, Python 3 standard library only). ONLY=substring runs a subset.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/fieldforce_test.py

#!/bin/sh
# The membership package (plugins/membership): DOMAIN.md B5 stories 1-6 with their numbers and
# others, the ledger's clock through `crm timer member_flow ... --at T`, the append-only ledger
# refusing changes from every role, the balance invariant under 32 concurrent clients earning and
# redeeming on one member, enrolment of a consumer who becomes active, the consumer's scope and bad
# input, over REST against a real `crm serve` on a `crm demo` database of the shipped metadata/
# and plugins/ (membership_test.py, Python 3 standard library only). ONLY=substring runs a subset.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/membership_test.py

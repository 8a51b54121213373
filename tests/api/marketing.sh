#!/bin/sh
# The marketing package (plugins/marketing): the five acceptance stories of DOMAIN.md B1 with its
# numbers and with others, plan actuals and a kpi against SQL on the database file, and the public
# web-to-lead form (pooled leads, 429, 413, malformed input, the honeypot, hostile text escaped),
# over REST against a real `crm serve` on a `crm demo` database of the shipped metadata/ and plugins/
# (marketing_test.py, Python 3 standard library only). ONLY=substring runs a subset.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/marketing_test.py

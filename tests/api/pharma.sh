#!/bin/sh
# The pharma industry pack (plugins/pharma) over REST: a real `crm --industry pharma serve` on a fresh
# `crm --industry pharma demo` database of the shipped metadata/ and plugins/. The demo's stories,
# DOMAIN.md B6 scenario 4 (limit 10, given 8: 3 refused naming the limit, 2 accepted, left 0), issue
# 18's 13th unit refused at a limit of 12, two reps dropping at once, expired lots, consent and
# licence, the 48-hour rule on call reports, roles and bad input (pharma_test.py, Python 3 standard
# library only). ONLY=substring runs a subset, KEEP=1 keeps the work folder.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/pharma_test.py

#!/bin/sh
# The lead2cash package (plugins/lead2cash): its acceptance stories, the partner's view, bad
# input and a property test of the chained totals, over REST against a real `crm serve` on a
# `crm demo` database of the shipped metadata/ and plugins/ (lead2cash_test.py, Python 3
# standard library only).
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/lead2cash_test.py

#!/bin/sh
# Geo: distance(), within() and point() of the expression language in list
# filters, formulas and rules, geo validation at every door, and the indexed
# point columns of a database made before them, against a real `crm serve`
# on tests/api/geo/ (geo_test.py, Python 3 standard library only).
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/geo_test.py

#!/bin/sh
# The KPIs (GET /api/v1/kpis) against an independent SQL computation for every shipped kpi, periods,
# targets, scopes and bad input, over REST against a real `crm serve` on a
# `crm demo` database of the shipped metadata/ and plugins/ (kpi_test.py, Python 3
# standard library only).
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/kpi_test.py

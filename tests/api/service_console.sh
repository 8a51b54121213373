#!/bin/sh
# The service package's demo data, console metadata and reports (plugins/service: demo.lua,
# objects/console.yaml, objects/reports.yaml): the demo's records per object and every case state,
# tier and milestone outcome, a second run a no-op; views.console in /meta per role; the console's
# queue as an agent; the reports against SQL on the database file; bad input. Over REST against a
# real `crm serve` on a `crm demo` database of the shipped metadata/ and plugins/
# (service_console_test.py, Python 3 standard library only). ONLY=substring runs a subset.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/service_console_test.py

#!/bin/sh
# Business-hours calendars and pausable SLA clocks: a real `crm serve` with the metadata in
# tests/api/calendar/ (DOMAIN.md B3's calendar, a New York one for the DST changes, holiday
# records, tickets with business-time formulas and a rule), and `crm timer --at` driving the
# ticket workflow's SLA timer through a pause, a resume and a breach notified once across a
# restart (calendar_test.py, Python 3 standard library only). ONLY=substring, KEEP=1 as in run.sh.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/calendar_test.py

#!/bin/sh
# Reports across objects (`report:` documents, GET /api/v1/reports[/name]) against an independent
# computation over the database file: the chain campaign -> members -> leads -> opportunities of
# tests/api/report/campaign.yaml beside the shipped metadata, row rules, date buckets, bad input and
# the `crm check` errors of bad report documents (report_test.py, Python 3 standard library only).
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/report_test.py

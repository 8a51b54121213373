#!/bin/sh
# Public plugin routes (crm.route(..., { public = true })): a real `crm serve` with the metadata in
# tests/api/public/ and the test plugin tests/plugins/webform: anonymous JSON and HTML-form posts
# creating leads as the guest, the per-address rate limit (429), size caps (413), malformed
# bodies (400), an admin's cookie giving no rights there, signed-in routes still needing a
# session, the OpenAPI document, `crm plugins`, and a deployment without a guest role
# (public_test.py, Python 3 standard library only). ONLY=substring, KEEP=1 as in run.sh.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/public_test.py

#!/bin/sh
# Full-text search (FTS5, Chinese and English): the object API's ?q= and the global
# GET /api/v1/search against a real `crm serve` on tests/api/search/ (search_test.py,
# Python 3 standard library only).
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/search_test.py

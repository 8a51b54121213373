#!/bin/sh
# The service package's knowledge base and satisfaction surveys (plugins/service: kb.lua,
# survey.lua): the article review with roles and audiences, immutable versions, suggestions from a
# case's subject in English and Chinese, helpful votes, DOMAIN.md B3 story 6 (CSAT) through the
# aggregate API, and the public single-use survey link (expired, unknown, raced, bad input,
# hostile text, 413, 429), over REST against a real `crm serve` on a `crm demo` database of the
# shipped metadata/ and plugins/ (service_kb_test.py, Python 3 standard library only).
# ONLY=substring runs a subset.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/service_kb_test.py

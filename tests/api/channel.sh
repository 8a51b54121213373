#!/bin/sh
# The channel package over HTTP: a real `crm serve` on a `crm demo` database of the shipped metadata/
# and plugins/ (DOMAIN.md B4 stories 1-6 with other numbers too, the conflict answer checked byte-wise,
# authorization, bad input): channel_test.py, Python 3 standard library only. ONLY=substring, KEEP=1
# as in run.sh.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/channel_test.py

#!/bin/sh
# The service package's SLA clock: a real `crm serve` on a `crm demo` database, the clock driven by
# `crm timer case_flow <timer> --at T` and by the times the transitions record (DOMAIN.md B3 stories
# 1-5, a DST change, a restart in the middle of a breach, bad input): service_sla_test.py, Python 3
# standard library only. ONLY=substring, KEEP=1 as in run.sh.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/service_sla_test.py

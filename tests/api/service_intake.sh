#!/bin/sh
# Case intake from every channel (plugins/service/intake.lua): a real `crm serve` on a fresh demo
# database with the inbound e-mail secret set; the signed e-mail route (good, wrong, missing,
# replayed, stale signatures; 503 without the secret), threading and dedupe, the web form, the
# portals' rights and bad input (service_intake_test.py, Python 3 standard library only; it also
# runs `crm plugin test service`). ONLY=substring runs a subset, KEEP=1 keeps the work folder.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/service_intake_test.py

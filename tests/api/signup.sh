#!/bin/sh
# Consumer sign-up (app.yaml signup:): a real `crm serve` over a `crm demo` database of the shipped
# metadata, its outbox pointed at an SMTP server on loopback that signup_test.py starts in its own
# process (so it stops with it, whatever happens). ONLY=substring, KEEP=1 as in run.sh.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" "$PYTHON" tests/api/signup_test.py &
child=$!
trap 'kill $child 2>/dev/null; wait $child' INT TERM
wait $child

#!/bin/sh
# Attachments (metadata/attachment.yaml, core/engine/attachment.c): uploads (multipart and raw),
# byte-exact downloads, dedup by sha256, the parent record's rules (404/403), hostile names and
# types served as downloads, the size cap (413, nothing written), malformed and cut-off bodies,
# delete with the parent, GDPR erase and `crm files sweep`, over REST against a real `crm serve`
# on a `crm demo` database of the shipped metadata/ and plugins/ (attachments_test.py, Python 3
# standard library only). ONLY=substring, KEEP=1 as in run.sh.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" exec "$PYTHON" tests/api/attachments_test.py

#!/usr/bin/env bash
# Installs the app into .venv (the first time) and serves it on 127.0.0.1:8000; arguments go to
# `backprop-viz serve` (--host, --port, --workers).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/backprop-viz ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
exec .venv/bin/backprop-viz serve "$@"

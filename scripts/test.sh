#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs every test.
# Chromium comes from Debian (Playwright cannot download its own browser here).
set -euo pipefail
cd "$(dirname "$0")/.."

# Chromium for the end-to-end tests, and a Japanese font so screenshots of 日本語 are readable.
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/opentype/ipafont-gothic ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-ipafont-gothic >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m pytest "$@"

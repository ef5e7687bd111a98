#!/usr/bin/env bash
# Browser tests (pytest -m browser) drive Debian's chromium through Playwright for Python.
# Idempotent: installs chromium only when /usr/bin/chromium is missing. Never runs `playwright install`.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "browser.sh: /usr/bin/chromium is missing and we are not root; install the 'chromium' package" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
test -x /usr/bin/chromium

#!/usr/bin/env bash
# Debian's Chromium, Node.js and npm, for the web demo's tests (tests/test_web_demo.py; it runs `npm ci` in web_demo).
# Installs them where missing (as root, or through sudo); the Makefile and .ci/run both call this.
set -euo pipefail
if [ -x /usr/bin/chromium ] && command -v npm >/dev/null; then
  echo "chromium and npm are installed"
  exit 0
fi
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium nodejs npm

#!/usr/bin/env bash
# Chromium, Node.js and npm, for the web demo's tests (tests/test_web_demo.py; it runs `npm ci` in web_demo).
# Asks Debian's apt (as root, or through sudo) only for what is missing: a Node.js installed another way
# (NodeSource's, say) is kept, since Debian's npm conflicts with it. The Makefile and .ci/run both call this.
set -euo pipefail
source "$(dirname "$0")/lib/apt_missing.sh"

if command -v chromium >/dev/null; then
  found "chromium ($(command -v chromium))"
else
  missing chromium chromium
fi
if node --version >/dev/null 2>&1; then
  found "node $(node --version)"
  if npm --version >/dev/null 2>&1; then
    found "npm $(npm --version)"
  else
    missing npm npm
  fi
else
  missing "node and npm" nodejs npm
fi
install_missing

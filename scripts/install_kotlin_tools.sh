#!/usr/bin/env bash
# Debian's Kotlin compiler and JUnit 4, for the Android core's JVM tests (tests/test_android_core.py).
# Installs them where missing (as root, or through sudo); the Makefile and .ci/run both call this.
set -euo pipefail
if command -v kotlinc >/dev/null && [ -f /usr/share/java/junit4.jar ]; then
  echo "kotlinc and junit4 are installed"
  exit 0
fi
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends kotlin junit4

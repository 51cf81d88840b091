#!/usr/bin/env bash
# Debian's Kotlin compiler and JUnit 4, for the Android core's JVM tests (tests/test_android_core.py).
# Asks apt (as root, or through sudo) only for what is missing; the Makefile and .ci/run both call this.
set -euo pipefail
source "$(dirname "$0")/lib/apt_missing.sh"

if command -v kotlinc >/dev/null; then
  found "kotlinc ($(command -v kotlinc))"
else
  missing kotlinc kotlin
fi
JUNIT_JAR=${JUNIT_JAR:-/usr/share/java/junit4.jar}
if [ -f "$JUNIT_JAR" ]; then
  found "junit4 ($JUNIT_JAR)"
else
  missing junit4 junit4
fi
install_missing

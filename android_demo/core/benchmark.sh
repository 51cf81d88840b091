#!/bin/sh
# Times the per-frame YUV -> model input conversion on the JVM, before (full conversion,
# rotation, resize) and after (YuvCropPreprocessor), with Debian's kotlinc like the tests.
# Usage: android_demo/core/benchmark.sh [ROUNDS] [FRAMES_PER_ROUND]
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
kotlinc "$here/src/main/kotlin" "$here/src/benchmark/kotlin" -d "$out/benchmark.jar" 2>/dev/null
java -cp "$out/benchmark.jar:/usr/share/java/kotlin-stdlib.jar" org.tsmtf.demo.core.ConversionBenchmark "$@"

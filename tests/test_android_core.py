"""The Android demo's Kotlin core, tested on the JVM against the Python reference.

Generates golden vectors from a tiny exported streaming model, float32 and full int8
(`tsm_tf.lite.golden`: raw frames, the exact inputs and states fed to the real TFLite
interpreter, its outputs, and the Python client's smoothed scores; state outputs renamed
so that only pairing by model.json's names replays them, and a smoothed top-1 that
changes), compiles android_demo/core with its JUnit 4
tests using Debian's kotlinc (no Gradle, no Android SDK), and runs them.

Needs `kotlinc` and junit4: `sudo apt-get install -y kotlin junit4`. Without them this
test fails and says so; it never skips.
"""

import os
import pathlib
import shutil
import subprocess

import pytest

from tsm_tf.lite import golden
from tsm_tf.lite import pacer_golden

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORE = ROOT / "android_demo" / "core" / "src"
JAVA_LIBRARIES = pathlib.Path("/usr/share/java")
JARS = ("junit4.jar", "hamcrest-core.jar", "kotlin-stdlib.jar")
INSTALL_HINT = (
    "The Android core's JVM tests need Debian's Kotlin compiler and JUnit 4. Install them "
    "with `sudo apt-get update && sudo apt-get install -y --no-install-recommends kotlin "
    "junit4` (or `make kotlin-tools`), then rerun `make test`."
)


def _tools():
    kotlinc = shutil.which("kotlinc")
    java = shutil.which("java")
    missing = [name for name in JARS if not (JAVA_LIBRARIES / name).exists()]
    if kotlinc is None or java is None or missing:
        pytest.fail(
            f"kotlinc={kotlinc}, java={java}, missing jars in {JAVA_LIBRARIES}: {missing}. "
            + INSTALL_HINT,
            pytrace=False,
        )
    return kotlinc, java


def _test_classes():
    tests = sorted((CORE / "test" / "kotlin").rglob("*Test.kt"))
    classes = []
    for path in tests:
        package = next(
            line.split()[1] for line in path.read_text().splitlines() if line.startswith("package ")
        )
        classes.append(f"{package}.{path.stem}")
    return classes


def test_kotlin_core_replays_python_golden_vectors(tmp_path):
    kotlinc, java = _tools()
    classpath = [str(JAVA_LIBRARIES / name) for name in JARS]
    jar = tmp_path / "core-tests.jar"
    # Compile (the slow part, ~20 s) while Python exports the model and records the vectors.
    compile_process = subprocess.Popen(
        [
            kotlinc,
            str(CORE / "main" / "kotlin"),
            str(CORE / "test" / "kotlin"),
            "-cp",
            os.pathsep.join(classpath[:2]),
            "-d",
            str(jar),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    golden_dirs = [tmp_path / "golden" / precision for precision in ("float32", "int8")]
    for golden_dir in golden_dirs:
        golden.write_golden_vectors(str(golden_dir), precision=golden_dir.name)
    # The frame pacer's timestamps and choices, replayed by FramePacerGoldenTest.kt.
    pacer_file = tmp_path / "golden" / pacer_golden.PACER_FILE
    pacer_golden.write_pacer_golden(str(pacer_file))
    compile_output, _ = compile_process.communicate(timeout=300)
    assert compile_process.returncode == 0, f"kotlinc failed:\n{compile_output}"

    classes = _test_classes()
    assert "org.tsmtf.demo.core.GoldenReplayTest" in classes
    result = subprocess.run(
        [
            java,
            f"-Dtsm.golden={os.pathsep.join(map(str, golden_dirs))}",
            f"-Dtsm.pacer={pacer_file}",
            "-cp",
            os.pathsep.join([str(jar), *classpath]),
            "org.junit.runner.JUnitCore",
            *classes,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "OK (" in output, f"JUnit failed:\n{output}"

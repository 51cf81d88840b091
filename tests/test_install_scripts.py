"""The install scripts ask apt only for what is missing, and say what they found and did.

Each case runs a script with stand-ins first on PATH (and nothing of the machine's own but a
few shell tools), so nothing is installed and the machine's own Node.js or Chromium cannot
answer for the stand-ins.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
SHELL_TOOLS = ("bash", "dirname", "cat")


def _write_tool(folder, name, body):
    path = folder / name
    path.write_text(f"#!{shutil.which('bash')}\n{body}\n")
    path.chmod(0o755)


def _run(tmp_path, script, present, apt_status=0):
    """Runs `script` with stand-ins for the commands in `present`; returns (process, apt calls)."""
    stand_ins = tmp_path / "stand_ins"
    shell = tmp_path / "shell"
    stand_ins.mkdir()
    shell.mkdir()
    for tool in SHELL_TOOLS:
        (shell / tool).symlink_to(shutil.which(tool))
    _write_tool(stand_ins, "id", "echo 0")
    apt_log = tmp_path / "apt.log"
    _write_tool(stand_ins, "apt-get", f'echo "$*" >> {apt_log}\nexit {apt_status}')
    versions = {"node": "v20.20.2", "npm": "11.19.1", "chromium": "Chromium 156", "kotlinc": "1.3"}
    for name in present:
        if name in versions:
            _write_tool(stand_ins, name, f"echo {versions[name]}")
    junit = tmp_path / "junit4.jar"
    if "junit4" in present:
        junit.write_text("")
    environment = {"PATH": f"{stand_ins}:{shell}", "JUNIT_JAR": str(junit)}
    process = subprocess.run(
        [str(shell / "bash"), str(SCRIPTS / script)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    calls = apt_log.read_text().splitlines() if apt_log.exists() else []
    return process, calls


def _installed(calls):
    """The packages apt was asked to install."""
    installs = [call.split() for call in calls if call.startswith("install")]
    assert len(installs) <= 1, calls
    return {word for word in installs[0][1:] if not word.startswith("-")} if installs else set()


def test_web_tools_present_asks_apt_nothing(tmp_path):
    process, calls = _run(tmp_path, "install_web_tools.sh", {"node", "npm", "chromium"})
    assert process.returncode == 0, process.stderr
    assert calls == []
    assert "found: chromium" in process.stdout and "found: node v20.20.2" in process.stdout
    assert "nothing to install" in process.stdout


def test_web_tools_keep_a_foreign_node(tmp_path):
    # Debian's npm conflicts with a Node.js from NodeSource: only Chromium may be asked for.
    process, calls = _run(tmp_path, "install_web_tools.sh", {"node", "npm"})
    assert process.returncode == 0, process.stderr
    assert calls[0].startswith("update")
    assert _installed(calls) == {"chromium"}
    assert "installed: chromium" in process.stdout


def test_web_tools_nothing_present(tmp_path):
    process, calls = _run(tmp_path, "install_web_tools.sh", set())
    assert process.returncode == 0, process.stderr
    assert _installed(calls) == {"chromium", "nodejs", "npm"}


def test_web_tools_node_without_npm_asks_for_npm_alone(tmp_path):
    process, calls = _run(tmp_path, "install_web_tools.sh", {"node", "chromium"})
    assert process.returncode == 0, process.stderr
    assert _installed(calls) == {"npm"}


@pytest.mark.parametrize("script", ["install_web_tools.sh", "install_kotlin_tools.sh"])
def test_apt_failure_is_reported_with_its_status(tmp_path, script):
    process, calls = _run(tmp_path, script, set(), apt_status=100)
    assert process.returncode == 100
    assert "could not install" in process.stderr and "exited with 100" in process.stderr
    assert "installed:" not in process.stdout


def test_kotlin_tools_ask_only_for_the_missing_one(tmp_path):
    process, calls = _run(tmp_path, "install_kotlin_tools.sh", {"kotlinc"})
    assert process.returncode == 0, process.stderr
    assert _installed(calls) == {"junit4"}
    (tmp_path / "present").mkdir()
    present, calls = _run(tmp_path / "present", "install_kotlin_tools.sh", {"kotlinc", "junit4"})
    assert present.returncode == 0 and calls == []

"""Every code block of README.md and docs/*.md runs as pasted.

A document's ```python and ```bash blocks run in order in one fresh folder, as a
reader pasting them would: Python blocks as scripts (`python block.py`), bash
blocks with `bash -euo pipefail`, with this environment's console scripts on
PATH. A block that cannot run here is preceded by
`<!-- docs-test: skip: the reason -->`, and the reason is required.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*docs-test:\s*skip:\s*(\S.*?)\s*-->\s*$")
RUNNABLE = {"python": "python", "bash": "bash", "sh": "bash"}


def code_blocks(text):
    """(language, first line number, code, skip reason or None) for each fenced block."""
    blocks, lines = [], text.splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        language, start = match.group(1), index + 1
        end = start
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        previous = next((line for line in reversed(lines[:index]) if line.strip()), "")
        skip = SKIP.match(previous)
        blocks.append(
            (
                language,
                start + 1,
                "\n".join(lines[start:end]) + "\n",
                skip.group(1) if skip else None,
            )
        )
        index = end + 1
    return blocks


def run_document(path, folder, timeout=600):
    """Runs the runnable blocks of `path` in `folder`; returns how many ran."""
    environment = dict(
        os.environ,
        PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    count = 0
    for number, (language, line, code, skip) in enumerate(code_blocks(path.read_text())):
        if language not in RUNNABLE or skip is not None:
            continue
        kind = RUNNABLE[language]
        script = folder / f"block_{number:02d}.{'py' if kind == 'python' else 'sh'}"
        script.write_text(code)
        command = (
            [sys.executable, script.name]
            if kind == "python"
            else ["bash", "-euo", "pipefail", script.name]
        )
        result = subprocess.run(
            command, cwd=folder, env=environment, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise AssertionError(
                f"{path.name}, the {language} block at line {line}, failed ({result.returncode}):\n"
                f"{code}\n--- output ---\n{(result.stdout + result.stderr)[-4000:]}"
            )
        count += 1
    return count


def test_every_block_is_of_a_known_language():
    for path in DOCUMENTS:
        for language, line, _, _ in code_blocks(path.read_text()):
            assert language in (
                *RUNNABLE,
                "",
                "text",
                "json",
                "kotlin",
                "javascript",
                "html",
                "dockerfile",
            ), f"{path.name}:{line}: fenced block of unknown language {language!r}"


def test_a_broken_snippet_fails(tmp_path):
    document = tmp_path / "broken.md"
    document.write_text("Text.\n\n```python\nprint('fine')\n```\n\n```python\nprnt('typo')\n```\n")
    with pytest.raises(AssertionError, match="NameError: name 'prnt'"):
        run_document(document, tmp_path)
    skipped = tmp_path / "skipped.md"
    skipped.write_text("<!-- docs-test: skip: needs a phone -->\n```bash\nfalse\n```\n")
    assert run_document(skipped, tmp_path) == 0


LINK = re.compile(r"\]\(([^)\s]+)\)")


def heading_anchors(path):
    """GitHub's anchors for the headings of a Markdown file (code blocks left out)."""
    anchors, fenced = set(), False
    for line in path.read_text().splitlines():
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_relative_links_lead_somewhere():
    documents = [*DOCUMENTS, ROOT / "web_demo" / "README.md", ROOT / "android_demo" / "README.md"]
    broken = []
    for document in documents:
        for target in LINK.findall(document.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # a URL
            file_part, _, anchor = target.partition("#")
            linked = (document.parent / file_part).resolve() if file_part else document
            if not linked.exists():
                broken.append(f"{document.name}: {target} (no {linked})")
            elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
                broken.append(f"{document.name}: {target} (no heading #{anchor})")
    assert not broken, "\n".join(broken)


@pytest.mark.slow
@pytest.mark.parametrize("path", DOCUMENTS, ids=[path.name for path in DOCUMENTS])
def test_document_runs_as_written(path, tmp_path):
    run_document(path, tmp_path)


@pytest.mark.parametrize(
    "command, flag",
    [
        ("tsm-train", "--nobidirectional"),
        ("tsm-export", "--frame_rate"),
        ("tsm-eval", "--noprogress"),
    ],
)
def test_help_lists_the_tools_own_flags(command, flag):
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), command), "--help"],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert flag.replace("--no", "--[no]") in result.stdout, result.stdout + result.stderr

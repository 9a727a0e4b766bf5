"""The documentation's commands are true: every command of docs/getting-started.md is run here,
in order, in one directory, and the output the page shows must appear in what it prints.

In a ``console`` block, ``$ `` starts a command and the lines after it are its output: each
must appear, in order (a line ``...`` stands for any lines, a line ending in ``...`` for any
end). A ``sh`` block is run as it stands, unless its first line says ``# interactive`` (the app
takes the terminal: each command runs with ``--help``, which checks it and its options) or
``# ci`` (the command is the one ``.ci/run`` runs).
"""

from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from putback_tui.dataset import DEMO_DIR

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "getting-started.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass
class Command:
    line: str
    expected: list[str] = field(default_factory=list)
    mode: str = "run"  # run | interactive | ci


def commands(page: str) -> list[Command]:
    """The page's commands, in order, with the output each block shows."""
    found: list[Command] = []
    for lang, body in FENCE.findall(page):
        lines = body.rstrip("\n").split("\n")
        if lang == "console":
            for line in lines:
                if line.startswith("$ "):
                    found.append(Command(line[2:]))
                else:
                    found[-1].expected.append(line)
        elif lang == "sh":
            mode = "run"
            if lines[0].startswith("# interactive"):
                mode = "interactive"
            elif lines[0].startswith("# ci"):
                mode = "ci"
            for line in lines:
                command = line.split("  #", 1)[0].strip()
                if command and not command.startswith("#"):
                    found.append(Command(command, mode=mode))
    return found


def shows(expected: list[str], output: str) -> bool:
    """Each expected line appears in ``output``, in order ("..." lines skip, "x..." is a prefix)."""
    got = iter(output.splitlines())
    for want in expected:
        if want == "...":
            continue
        if want.endswith("..."):
            if not any(line.startswith(want[:-3]) for line in got):
                return False
        elif not any(line.rstrip() == want.rstrip() for line in got):
            return False
    return True


def user_env() -> dict[str, str]:
    """This venv's ``putback`` first on PATH, and no PUTBACK_* settings of the test run.

    No terminal size either: a pytest-xdist worker has ``COLUMNS=80`` in its environment, and
    the page shows what a user's commands print, at the width they get without one.
    """
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("PUTBACK_") and k not in ("COLUMNS", "LINES")
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_page_has_commands_to_run() -> None:
    found = commands(PAGE.read_text())
    assert [c.mode for c in found].count("run") >= 5
    assert {"scripts/demo", "scripts/test"} <= {c.line.split()[0] for c in found}


def test_every_command_of_getting_started_runs_and_prints_what_the_page_shows(
    tmp_path: Path,
) -> None:
    env = user_env()
    for command in commands(PAGE.read_text()):
        if command.mode == "ci":
            assert f"exec {command.line}" in (ROOT / ".ci" / "run").read_text()
            continue
        argv = shlex.split(command.line)
        if command.mode == "interactive":
            argv.append("--help")
        cwd = ROOT if argv[0].startswith("scripts/") else tmp_path
        out = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, f"{command.line}: {out.stdout}\n{out.stderr}"
        assert "Traceback" not in out.stderr
        assert shows(command.expected, out.stdout), (
            f"{command.line} printed:\n{out.stdout}\nthe page shows:\n"
            + "\n".join(command.expected)
        )


def test_the_sample_import_file_imports_as_data_format_shows(tmp_path: Path) -> None:
    """docs/data-format.md's sample (data/upstream.json) imports, beside the demo set."""
    page = (ROOT / "docs" / "data-format.md").read_text()
    (command,) = [c for c in commands(page) if "upstream.json" in c.line]
    env = user_env()
    # The page's command names central.sqlite3 in the directory it runs in: a copy of it here.
    db = tmp_path / "central.sqlite3"
    command.line = command.line.replace("central.sqlite3", str(db))
    demo = subprocess.run(
        ["putback", "central", "import", "--db", str(db), "--demo"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    out = subprocess.run(
        shlex.split(command.line), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert shows(command.expected, out.stdout)


def test_data_format_names_every_column_of_the_demo_set() -> None:
    page = (ROOT / "docs" / "data-format.md").read_text()
    for csv_file in sorted(DEMO_DIR.glob("*.csv")):
        header = csv_file.read_text().splitlines()[0].split(",")
        row = next(line for line in page.splitlines() if line.startswith(f"| `{csv_file.name}`"))
        columns = re.findall(r"`([a-z_]+)`", row.split("|")[2])
        assert columns == header, csv_file.name


def svg_text(svg: str) -> str:
    """The text of a Rich/Textual SVG screenshot, one line per terminal row, runs of blank rows
    squeezed to one (what the README shows where an image would not render).
    """
    rows: dict[int, list[tuple[int, str]]] = {}
    cell = re.compile(
        r'<text class="terminal-r\d+" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
        r'clip-path="url\(#terminal-line-(\d+)\)">([^<]*)</text>'
    )
    for x, line, text in cell.findall(svg):
        plain = html.unescape(text).replace("\xa0", " ")
        rows.setdefault(int(line), []).append((round(float(x) / 12.2), plain))
    lines: list[str] = []
    for row in range(max(rows) + 1):
        chars = [" "] * 200
        for col, text in rows.get(row, []):
            chars[col : col + len(text)] = text
        line = "".join(chars).rstrip()
        if not (line == "" and lines and lines[-1] == ""):
            lines.append(line)
    return "\n".join(lines).strip("\n")


def test_readme_is_the_front_door() -> None:
    """Short; the two commands first; every link it makes goes to a file of the repository;
    its text screenshot (which renders on a package index, unlike a relative image) is the
    screen of docs/screenshot.svg.
    """
    readme = (ROOT / "README.md").read_text()
    lines = readme.splitlines()
    assert len(lines) <= 150
    first = "\n".join(lines[:40])
    assert "scripts/demo" in first
    assert "scripts/test" in first
    for target in re.findall(r"\]\(([^)#:]+)\)", readme):
        assert (ROOT / target).exists(), target
    shown = re.search(r"```text\n(.*?)\n```", readme, re.DOTALL)
    assert shown is not None
    assert shown.group(1) == svg_text((ROOT / "docs" / "screenshot.svg").read_text())


def test_the_docs_screenshot_is_the_screen_as_it_is_today() -> None:
    """docs/screenshot.svg is the location step's snapshot, so a change of the screen (the
    status bar's worklist counts, say) cannot leave the front page showing an older one.
    """
    snapshot = (
        ROOT / "tests" / "tui" / "__snapshots__" / "test_snapshots"
        / "TestLocationScreen.test_one_unit_confirmed[100x30].svg"
    )
    assert svg_text((ROOT / "docs" / "screenshot.svg").read_text()) == svg_text(
        snapshot.read_text()
    )

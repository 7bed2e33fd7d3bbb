"""The wheel a friend installs without a clone (`make dist`): what is in it, and that it runs.

The wheel is built as `make dist` builds it, then installed alone into a new venv; the
libraries it depends on come from the test's own environment (a `.pth` line: nothing is fetched
and the checkout is not on the path), and the installed programs answer `--version` and
`rp2p-db` starts and prints its join code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from .faults.cluster import free_port

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = {
    "rp2p-db": "reliablep2p.app.cli:db_main",
    "rp2p-peer": "reliablep2p.app.cli:peer_main",
    "rp2p-tui": "tui.app:main",
}

SOURCES = ("pyproject.toml", "README.md", "MANIFEST.in", "reliablep2p", "tui")
PACKAGES = ("reliablep2p", "tui")
IGNORED = {"ignore": shutil.ignore_patterns("__pycache__")}

pytestmark = pytest.mark.slow  # builds and installs: ~10 s


def run(*argv: str | Path, timeout: float = 120) -> str:
    """Run to the end, away from the checkout (`python -c` would import from the folder it
    runs in); its output."""
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, cwd="/")  # fmt: skip
    assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"
    return done.stdout


def test_the_wheel_holds_the_programs_and_the_tui_style_and_runs_installed_alone(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"  # a copy: no build/ left in the checkout, none stale used
    source.mkdir()
    for part in SOURCES:
        copy = shutil.copytree if (ROOT / part).is_dir() else shutil.copy
        copy(ROOT / part, source / part, **IGNORED if part in PACKAGES else {})
    run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path, source)
    [wheel] = tmp_path.glob("reliablep2p-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        metadata = archive.read(f"{info}/METADATA").decode()
    assert {"tui/app.tcss", "reliablep2p/app/cli.py", "reliablep2p/game/saved.py"} <= names
    assert not any(n.startswith(("tests/", "bench/", "demo/")) for n in names)
    for program, target in PROGRAMS.items():
        assert f"{program} = {target}" in entry_points
    for needed in ("trio", "textual", "cryptography", "msgspec", "spake2"):
        assert re.search(rf"^Requires-Dist: {needed}\b", metadata, re.MULTILINE), needed

    venv = tmp_path / "friend"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
        "--no-index", wheel)  # fmt: skip
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    # the dependencies, from here (a .pth line adds a folder, not the .pth files in it: this
    # checkout's editable install is not seen)
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = run(python, "-c", "import reliablep2p, tui; print(reliablep2p.__file__, tui.__file__)")
    assert all(path.startswith(str(venv)) for path in where.split()), where
    style = run(python, "-c", "from importlib.resources import files; "
                "print((files('tui') / 'app.tcss').read_text()[:200])")  # fmt: skip
    assert style.strip()
    version = run(
        python, "-c", "from importlib.metadata import version; print(version('reliablep2p'))"
    )
    for program in PROGRAMS:
        assert run(venv / "bin" / program, "--version").strip() == f"{program} {version.strip()}"

    db = subprocess.Popen(
        [venv / "bin" / "rp2p-db", "--host", "127.0.0.1", "--port", str(free_port()),
         "--enroll-port", str(free_port()), "--data", tmp_path / "data"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert db.stdout is not None
        line = db.stdout.readline()
        assert line.startswith("join code: "), line + (db.stderr.read() if db.poll() else "")
    finally:
        db.kill()
        db.wait(timeout=20)

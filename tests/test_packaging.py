"""The package installs as users get it: a wheel built from this repository, in a fresh venv.

Offline: the wheel is built without build isolation (setuptools from the test extras) from a
copy of the sources (nothing is written into the working tree), installed with --no-deps into a
new virtualenv, and the dependencies (aiohttp, aiomqtt, wyoming) are borrowed from the
development venv through a path entry. The speaker's own code must come from the wheel.
"""

from __future__ import annotations

from pathlib import Path
import shutil
import subprocess
import sys
import sysconfig
import tomllib

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "wyoming_servers")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel built from this repository; returns its bin dir."""
    work = tmp_path_factory.mktemp("packaging")
    src = work / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, src],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("moxie_home_assistant-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", python, "install", "--no-deps", "--no-index", wheel],
        check=True,
        capture_output=True,
    )
    # Dependencies only: a plain path entry does not run the dev venv's .pth files, so its
    # editable install of this repository stays out.
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def test_console_script_prints_the_version(installed: Path, tmp_path: Path) -> None:
    """`moxie-speaker --version` from the installed wheel prints the project's version."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        version = tomllib.load(file)["project"]["version"]
    result = subprocess.run(
        [installed / "moxie-speaker", "--version"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.stdout.strip() == version


def test_speaker_code_comes_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    """The installed speaker is the wheel's copy, not the working tree."""
    code = "import wyoming_servers.speaker.__main__ as m; print(m.__file__)"
    result = subprocess.run(
        [installed / "python", "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    module = Path(result.stdout.strip())
    assert module.is_relative_to(installed.parent)
    assert not module.is_relative_to(ROOT)

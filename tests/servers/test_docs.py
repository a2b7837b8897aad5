"""The launchers' README is their public contract: every option, variable and default in it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from wyoming_servers.launchers import piper, whisper

README = Path(whisper.__file__).parent / "README.md"
LAUNCHERS = [pytest.param(whisper, id="moxie-whisper"), pytest.param(piper, id="moxie-piper")]


def _options(module: object) -> list[argparse.Action]:
    parser: argparse.ArgumentParser = module.build_parser()  # type: ignore[attr-defined]
    return [a for a in parser._actions if a.option_strings and a.dest != "help"]


def _section(prog: str) -> list[str]:
    doc = README.read_text(encoding="utf-8")
    section = doc.split(f"### {prog}\n", 1)[1].split("\n#", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


@pytest.mark.parametrize("module", LAUNCHERS)
def test_every_option_its_variable_and_default_are_documented(module: object) -> None:
    rows = _section(module.PROG)  # type: ignore[attr-defined]
    options = _options(module)
    assert len(rows) == len(options)
    prefix = module.ENV.prefix  # type: ignore[attr-defined]
    for action in options:
        (row,) = [r for r in rows if r.startswith(f"| `{action.option_strings[0]}`")]
        for option in action.option_strings:
            assert f"`{option}`" in row, option
        assert f"`{prefix}{action.dest.upper()}`" in row, action.dest
        if isinstance(action, argparse._StoreTrueAction):
            assert "| off |" in row, action.dest
        elif action.dest != "data_dir":
            assert f"| `{action.default}` |" in row, (action.dest, action.default)


@pytest.mark.parametrize("module", LAUNCHERS)
def test_every_option_reads_its_variable(
    module: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    prefix = module.ENV.prefix  # type: ignore[attr-defined]
    for action in _options(module):
        if isinstance(action, argparse._StoreTrueAction):
            monkeypatch.setenv(prefix + action.dest.upper(), "on")
        elif action.type is int:
            monkeypatch.setenv(prefix + action.dest.upper(), "7")
        else:
            monkeypatch.setenv(prefix + action.dest.upper(), str(tmp_path / action.dest))
    args = module.build_parser().parse_args([])  # type: ignore[attr-defined]
    for action in _options(module):
        value = getattr(args, action.dest)
        if isinstance(action, argparse._StoreTrueAction):
            assert value is True, action.dest
        elif action.type is int:
            assert value == 7, action.dest
        else:
            assert str(value) == str(tmp_path / action.dest), action.dest


def test_shared_data_dir_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """MOXIE_DATA_DIR places both servers' models; a server's own variable wins."""
    monkeypatch.setenv("MOXIE_DATA_DIR", str(tmp_path / "moxie"))
    monkeypatch.setenv("MOXIE_PIPER_DATA_DIR", str(tmp_path / "voices"))
    assert whisper.build_parser().parse_args([]).data_dir == tmp_path / "moxie"
    assert piper.build_parser().parse_args([]).data_dir == tmp_path / "voices"
    assert "`MOXIE_DATA_DIR`" in README.read_text(encoding="utf-8")

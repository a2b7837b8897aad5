"""The services' READMEs are their public contracts: every option, its variable, its default."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from wyoming_servers.turn import __main__ as turn
from wyoming_servers.voice import __main__ as voice

SERVICES = [pytest.param(voice, id="moxie-tts"), pytest.param(turn, id="moxie-turn")]


def _options(service: Any) -> list[argparse.Action]:
    parser = service.build_parser()
    return [a for a in parser._actions if a.option_strings and a.dest not in {"help", "version"}]


def _rows(service: Any) -> list[str]:
    readme = Path(service.__file__).parent / "README.md"
    section = readme.read_text(encoding="utf-8").split("## Options\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `--")]


@pytest.mark.parametrize("service", SERVICES)
def test_every_option_its_variable_and_default_are_documented(service: Any) -> None:
    rows = _rows(service)
    options = _options(service)
    assert len(rows) == len(options) + 1  # and --version
    for action in options:
        (row,) = [r for r in rows if r.startswith(f"| `{action.option_strings[0]}")]
        assert f"`{service.ENV_PREFIX}{action.dest.upper()}`" in row, action.dest
        if isinstance(action, argparse._StoreTrueAction) or action.default is None:
            assert "| off |" in row or "| none |" in row or "the voice's" in row, row
        elif isinstance(action.default, list):
            assert "| none |" in row or "every voice found" in row, row
        else:
            assert f"| `{action.default}` |" in row, (action.dest, action.default)


@pytest.mark.parametrize("service", SERVICES)
def test_every_option_reads_its_variable(service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"int": "7", "float": "0.5", "flag": "on", "str": "custom"}
    for action in _options(service):
        if isinstance(action, argparse._StoreTrueAction):
            kind = "flag"
        elif action.type in {int, float}:
            kind = action.type.__name__
        else:
            kind = "str"
        monkeypatch.setenv(service.ENV_PREFIX + action.dest.upper(), values[kind])
    args = service.build_parser().parse_args([])
    for action in _options(service):
        value = getattr(args, action.dest)
        if isinstance(action, argparse._StoreTrueAction):
            assert value is True, action.dest
        elif action.type is int:
            assert value == 7, action.dest
        elif action.type is float:
            assert value == 0.5, action.dest
        elif isinstance(value, list):
            assert value == ["custom"], action.dest
        else:
            assert value == "custom", action.dest

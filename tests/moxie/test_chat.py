"""The pure helpers between the ChatLog and Ollama: history window, think tags, speakable text."""

from __future__ import annotations

import ollama
import pytest

from custom_components.moxie.answer import speakable
from custom_components.moxie.chat import ThinkTagFilter, parse_tool_args, trim_history
from custom_components.moxie.persona import base_language, line


def msg(role: str, content: str = "") -> ollama.Message:
    return ollama.Message(role=role, content=content)


def test_trim_keeps_system_window_and_current_turn() -> None:
    """The window never starts with a tool result or an orphan assistant message."""
    messages = [
        msg("system", "persona"),
        msg("user", "1"),
        msg("assistant", "a1"),
        msg("user", "2"),
        msg("assistant"),  # a tool call
        msg("tool", "result"),
        msg("assistant", "a2"),
        msg("user", "3"),
    ]
    kept = trim_history(messages, 3)
    # The last 3 earlier messages would start at the tool result: the window moves to "3".
    assert [(m.role, m.content) for m in kept] == [("system", "persona"), ("user", "3")]
    kept = trim_history(messages, 4)
    assert [m.content for m in kept] == ["persona", "2", "", "result", "a2", "3"]
    assert trim_history(messages, 0) == messages
    assert trim_history(messages[1:], 2) == messages[1:]  # no system prompt: left alone
    assert trim_history([msg("system", "p")], 2) == [msg("system", "p")]


@pytest.mark.parametrize(
    ("pieces", "content", "thinking"),
    [
        (["<think>a</think>b"], "b", "a"),
        (["<th", "ink>a", "</thi", "nk>b"], "b", "a"),
        (["x<", "y"], "x<y", ""),
        (["<think>never closed"], "", "never closed"),
        (["ends with <thi"], "ends with <thi", ""),
    ],
)
def test_think_tags_move_to_thinking(pieces: list[str], content: str, thinking: str) -> None:
    """Tags split anywhere across chunks are recognized; a lone `<` is content."""
    think = ThinkTagFilter()
    got = [think.feed(piece) for piece in pieces] + [think.flush()]
    assert "".join(c for c, _ in got) == content
    assert "".join(t for _, t in got) == thinking


def test_tool_args_are_repaired() -> None:
    """JSON strings are decoded, empty values dropped, broken JSON kept as text."""
    assert parse_tool_args({"a": "[1]", "b": "", "c": None, "d": "{x", "e": '{"k": 1}'}) == {
        "a": [1],
        "d": "{x",
        "e": {"k": 1},
    }
    assert parse_tool_args("not a dict") == {}


def test_speakable_drops_markup() -> None:
    assert speakable("**Hola**, soy `Moxie`.\n- uno\n- dos") == "Hola, soy Moxie. uno dos"


def test_lines_fall_back_to_spanish() -> None:
    assert base_language("en-GB") == "en"
    assert base_language("fr") == "es"
    assert line("model_missing", "en", model="m").startswith("The model m is missing")

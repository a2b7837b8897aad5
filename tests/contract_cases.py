"""The one table of `<base>/tts/text` payloads and what the contract makes of them.

One parser reads them all: the speech core's `parse_speech` (custom_components/moxie/
speech_core.py, copied byte for byte to wyoming_servers/speech_core.py for the speaker and
moxie-tts); tests/test_speech_core.py runs every case below through it. MQTT.md's "Field rules"
is the prose of this table.

A case expects either a rejection `reason` or the normalised `fields` of the accepted message.
`GENERATED` means "an id made up by the receiver"; `RECEIVE_TIME` means "no timestamp given:
the receiver's clock applies".
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from typing import Any, Final

GENERATED: Final = "<generated id>"
RECEIVE_TIME: Final = "<receive time>"
LIMIT: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class Case:
    """One payload and the outcome both parsers must agree on."""

    name: str
    payload: bytes
    reason: str | None = None
    fields: dict[str, Any] | None = None


def accepted(text: str, **fields: Any) -> dict[str, Any]:
    """The normalised fields of an accepted message (defaults of a minimal one)."""
    return {
        "text": text,
        "chunk": 1,
        "total_chunks": 1,
        "priority": "normal",
        "source": "external",
        "language": None,
        "id": GENERATED,
        "timestamp": RECEIVE_TIME,
        "group": None,
    } | fields


def _json(**data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def ok(name: str, payload: bytes, fields: dict[str, Any]) -> Case:
    """A payload the contract accepts."""
    return Case(name, payload, fields=fields)


def rejected(name: str, payload: bytes, reason: str) -> Case:
    """A payload the contract rejects, for this reason."""
    return Case(name, payload, reason=reason)


FULL = {
    "text": "Hola, soy Moxie.",
    "timestamp": 1795000000.5,
    "source": "assistant",
    "chunk": 2,
    "total_chunks": 3,
    "id": "abc",
    "priority": "high",
    "language": "es",
    "group": "answer-1",
}

CASES: Final[list[Case]] = [
    # Plain text: what OpenMoxie Español sends.
    ok("plain text", "  ¡Hola, Moxie!\n".encode(), accepted("¡Hola, Moxie!")),
    ok("plain text that is a JSON array", b'["a"]', accepted('["a"]')),
    ok("plain text at the size limit", b"a" * LIMIT, accepted("a" * LIMIT)),
    # Whole messages.
    ok(
        "every field",
        _json(**FULL),
        accepted(
            "Hola, soy Moxie.",
            chunk=2,
            total_chunks=3,
            priority="high",
            source="assistant",
            language="es",
            id="abc",
            timestamp=1795000000.5,
            group="answer-1",
        ),
    ),
    ok("only text", _json(text="Hola"), accepted("Hola")),
    ok("JSON after white space", b'  \n {"text": "Hola"}', accepted("Hola")),
    ok("text stripped", _json(text="  Hola  \n"), accepted("Hola")),
    ok("unknown fields ignored", _json(text="Hola", mood="happy"), accepted("Hola")),
    ok(
        "every optional field null",
        _json(
            text="Hola",
            priority=None,
            source=None,
            id=None,
            language=None,
            timestamp=None,
            group=None,
        ),
        accepted("Hola"),
    ),
    # priority
    ok("priority upper case", _json(text="a", priority="HIGH"), accepted("a", priority="high")),
    ok(
        "priority mixed case",
        _json(text="a", priority="Critical"),
        accepted("a", priority="critical"),
    ),
    ok("priority normal", _json(text="a", priority="normal"), accepted("a")),
    rejected("priority unknown", _json(text="a", priority="urgent"), "invalid_field"),
    rejected("priority empty", _json(text="a", priority=""), "invalid_field"),
    rejected("priority number", _json(text="a", priority=1), "invalid_field"),
    rejected("priority bool", _json(text="a", priority=True), "invalid_field"),
    # source
    ok("source kept", _json(text="a", source="puppet"), accepted("a", source="puppet")),
    rejected("source number", _json(text="a", source=1), "invalid_field"),
    rejected("source bool", _json(text="a", source=False), "invalid_field"),
    rejected("source list", _json(text="a", source=["x"]), "invalid_field"),
    # id
    ok("id integer", _json(text="a", id=7), accepted("a", id="7")),
    ok("id zero", _json(text="a", id=0), accepted("a", id="0")),
    ok(
        "id integer in chunks",
        _json(text="a", id=42, chunk=1, total_chunks=2),
        accepted("a", id="42", total_chunks=2),
    ),
    rejected("id empty", _json(text="a", id=""), "invalid_field"),
    rejected("id empty in chunks", _json(text="a", id="", total_chunks=2), "invalid_field"),
    rejected("id bool", _json(text="a", id=True), "invalid_field"),
    rejected("id float", _json(text="a", id=1.5), "invalid_field"),
    rejected("id list", _json(text="a", id=["a"]), "invalid_field"),
    rejected("id object", _json(text="a", id={}), "invalid_field"),
    rejected("chunked without id", _json(text="a", chunk=1, total_chunks=2), "invalid_field"),
    rejected(
        "chunked with null id", _json(text="a", id=None, chunk=2, total_chunks=2), "invalid_field"
    ),
    # language
    ok("language", _json(text="a", language="en"), accepted("a", language="en")),
    rejected("language number", _json(text="a", language=3), "invalid_field"),
    rejected("language bool", _json(text="a", language=False), "invalid_field"),
    # timestamp
    ok("timestamp integer", _json(text="a", timestamp=5), accepted("a", timestamp=5.0)),
    ok("timestamp float", _json(text="a", timestamp=1.25), accepted("a", timestamp=1.25)),
    rejected("timestamp string", _json(text="a", timestamp="ayer"), "invalid_field"),
    rejected("timestamp bool", _json(text="a", timestamp=True), "invalid_field"),
    rejected("timestamp list", _json(text="a", timestamp=[1]), "invalid_field"),
    # text
    rejected("text missing", _json(id="a"), "invalid_field"),
    rejected("text null", _json(text=None), "invalid_field"),
    rejected("text number", _json(text=1), "invalid_field"),
    rejected("text list", _json(text=["a"]), "invalid_field"),
    rejected("text empty", _json(text=""), "invalid_field"),
    rejected("text blank", _json(text=" \n\t "), "invalid_field"),
    # chunk, total_chunks
    ok(
        "last chunk",
        _json(text="b", id="s", chunk=3, total_chunks=3),
        accepted("b", id="s", chunk=3, total_chunks=3),
    ),
    rejected("chunk zero", _json(text="a", chunk=0), "invalid_field"),
    rejected("chunk negative", _json(text="a", chunk=-1), "invalid_field"),
    rejected("chunk bool", _json(text="a", chunk=True), "invalid_field"),
    rejected("chunk string", _json(text="a", chunk="1"), "invalid_field"),
    rejected("chunk float", _json(text="a", chunk=1.0), "invalid_field"),
    rejected("chunk null", _json(text="a", chunk=None), "invalid_field"),
    rejected("chunk over total", _json(text="a", id="s", chunk=2, total_chunks=1), "invalid_field"),
    rejected("chunk over default total", _json(text="a", id="s", chunk=2), "invalid_field"),
    rejected("total_chunks zero", _json(text="a", total_chunks=0), "invalid_field"),
    rejected("total_chunks bool", _json(text="a", total_chunks=True), "invalid_field"),
    rejected("total_chunks string", _json(text="a", id="s", total_chunks="2"), "invalid_field"),
    # group
    ok("group", _json(text="a", group="g1"), accepted("a", group="g1")),
    ok("group integer", _json(text="a", group=3), accepted("a", group="3")),
    rejected("group empty", _json(text="a", group=""), "invalid_field"),
    rejected("group bool", _json(text="a", group=True), "invalid_field"),
    rejected("group float", _json(text="a", group=1.5), "invalid_field"),
    rejected("group list", _json(text="a", group=["g"]), "invalid_field"),
    # Fields of the Speech event, not of the mirror: unknown here, so ignored (spoken).
    ok("speak is not a mirror field", _json(text="a", speak=False), accepted("a")),
    ok("satellite is not a mirror field", _json(text="a", satellite=1), accepted("a")),
    # The payload as a whole.
    rejected("empty", b"", "empty"),
    rejected("blank", b" \n\t ", "empty"),
    rejected("not UTF-8", b"\xff\xfe", "not_utf8"),
    rejected("truncated UTF-8", b"\xc3\x28", "not_utf8"),
    rejected("over the size limit", b"a" * (LIMIT + 1), "too_large"),
    rejected(
        "JSON over the size limit", _json(text="a" * LIMIT), "too_large"
    ),  # checked before parsing
    rejected("broken JSON", b"{no json", "invalid_json"),
    rejected("trailing comma", b'{"text": "a",}', "invalid_json"),
    rejected("extra data after the object", b'{"text": "a"} {"text": "b"}', "invalid_json"),
]

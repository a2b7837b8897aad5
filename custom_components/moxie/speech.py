"""The speech mirror payload: building, splitting and parsing (no Home Assistant imports)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import json
import re
import time
from typing import Any
import uuid

from .const import (
    CHUNK_MAX_CHARS,
    DEFAULT_PRIORITY,
    PAYLOAD_MAX_BYTES,
    PRIORITIES,
    SOURCE_EXTERNAL,
)

# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) and white space.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»”)\]]*\s+")


class PayloadError(ValueError):
    """A mirror payload that does not follow the contract; `reason` is a short counter key."""

    def __init__(self, reason: str, detail: str) -> None:
        """Keep the counter key and a human readable detail."""
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    """One message on `<base>/tts/text`."""

    text: str
    id: str
    chunk: int = 1
    total_chunks: int = 1
    source: str = SOURCE_EXTERNAL
    priority: str = DEFAULT_PRIORITY
    language: str | None = None
    timestamp: float = 0.0
    # False when a voice satellite already plays the answer: speakers stay silent, but it is
    # still an utterance (the Speech event fires).
    speak: bool = True
    # Entity id of the satellite that plays the answer, for display.
    satellite: str | None = None

    def as_payload(self) -> str:
        """Return the contract's JSON for this chunk."""
        return json.dumps(
            {
                "text": self.text,
                "timestamp": self.timestamp,
                "source": self.source,
                "chunk": self.chunk,
                "total_chunks": self.total_chunks,
                "id": self.id,
                "priority": self.priority,
                "language": self.language,
                "speak": self.speak,
                "satellite": self.satellite,
            },
            ensure_ascii=False,
        )


def split_text(text: str, limit: int = CHUNK_MAX_CHARS) -> list[str]:
    """Split text into pieces of at most `limit` chars at sentence, then word, boundaries.

    Joining the pieces with single spaces gives back the text with its white space folded
    (a word longer than `limit` is cut, so joining its pieces needs no space).
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return [text]
    sentences = _SENTENCE_END.split(text)
    return _pack((part for sentence in sentences for part in _split_long(sentence, limit)), limit)


def _split_long(sentence: str, limit: int) -> list[str]:
    """Split one sentence longer than limit at word boundaries (a huge word is cut)."""
    if len(sentence) <= limit:
        return [sentence]
    words = (
        word[start : start + limit]
        for word in sentence.split(" ")
        for start in range(0, len(word), limit)
    )
    return _pack(words, limit)


def _pack(units: Iterable[str], limit: int) -> list[str]:
    """Join consecutive units with a space as long as the result fits in limit."""
    pieces: list[str] = []
    current = ""
    for unit in units:
        if current and len(current) + 1 + len(unit) <= limit:
            current = f"{current} {unit}"
            continue
        if current:
            pieces.append(current)
        current = unit
    if current:
        pieces.append(current)
    return pieces


def build_chunks(
    text: str,
    *,
    source: str,
    priority: str = DEFAULT_PRIORITY,
    language: str | None = None,
    utterance_id: str | None = None,
    speak: bool = True,
    satellite: str | None = None,
) -> list[SpeechChunk]:
    """Return the ordered chunks of one utterance, sharing id, speak and satellite."""
    pieces = split_text(text)
    uid = utterance_id or uuid.uuid4().hex
    now = time.time()
    return [
        SpeechChunk(
            text=piece,
            id=uid,
            chunk=index,
            total_chunks=len(pieces),
            source=source,
            priority=priority,
            language=language,
            timestamp=now,
            speak=speak,
            satellite=satellite,
        )
        for index, piece in enumerate(pieces, start=1)
    ]


def parse_payload(payload: bytes | bytearray | str) -> SpeechChunk:
    """Parse a `<base>/tts/text` payload: contract JSON or plain UTF-8 text.

    Raises PayloadError with reason too_large, not_utf8, empty, invalid_json or invalid_field.
    The field rules are MQTT.md's; the speaker's parser follows the same table of cases
    (tests/contract_cases.py).
    """
    raw = payload.encode() if isinstance(payload, str) else bytes(payload)
    if len(raw) > PAYLOAD_MAX_BYTES:
        raise PayloadError("too_large", f"{len(raw)} bytes, over {PAYLOAD_MAX_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PayloadError("not_utf8", f"not UTF-8: {err}") from err
    stripped = text.strip()
    if not stripped:
        raise PayloadError("empty", "empty payload")
    if not stripped.startswith("{"):
        return SpeechChunk(
            text=stripped, id=uuid.uuid4().hex, source=SOURCE_EXTERNAL, timestamp=time.time()
        )
    try:
        data = json.loads(stripped)
    except ValueError as err:
        raise PayloadError("invalid_json", f"invalid JSON: {err}") from err
    if not isinstance(data, dict):
        raise PayloadError("invalid_json", "not a JSON object")
    return _chunk_from_json(data)


def _invalid(name: str, rule: str) -> PayloadError:
    return PayloadError("invalid_field", f"field {name!r} {rule}")


def _optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _invalid(name, "must be a string or null")


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid(name, "must be an integer >= 1")
    return value


def _chunk_from_json(data: dict[str, Any]) -> SpeechChunk:
    """Validate the contract's fields (MQTT.md, "Field rules")."""
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _invalid("text", "must be a non-blank string")
    chunk = _count(data, "chunk")
    total = _count(data, "total_chunks")
    if chunk > total:
        raise _invalid("chunk", f"{chunk} is over total_chunks {total}")
    priority = data.get("priority")
    if priority is None:
        priority = DEFAULT_PRIORITY
    elif not isinstance(priority, str) or priority.lower() not in PRIORITIES:
        raise _invalid("priority", f"must be one of {', '.join(PRIORITIES)}")
    uid = data.get("id")
    if isinstance(uid, bool) or not isinstance(uid, str | int | None) or uid == "":
        raise _invalid("id", "must be a non-empty string or an integer")
    if uid is None and total > 1:
        raise _invalid("id", "is needed when total_chunks > 1")
    timestamp = data.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float | None):
        raise _invalid("timestamp", "must be a number (Unix time)")
    source = _optional_str(data, "source")
    speak = data.get("speak")
    if speak is None:
        speak = True
    elif not isinstance(speak, bool):
        raise _invalid("speak", "must be true or false")
    return SpeechChunk(
        text=text.strip(),
        id=uuid.uuid4().hex if uid is None else str(uid),
        chunk=chunk,
        total_chunks=total,
        source=SOURCE_EXTERNAL if source is None else source,
        priority=priority.lower(),
        language=_optional_str(data, "language"),
        timestamp=time.time() if timestamp is None else float(timestamp),
        speak=speak,
        satellite=_optional_str(data, "satellite"),
    )

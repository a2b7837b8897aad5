"""The speech mirror payload: building, splitting and parsing (no Home Assistant imports)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import json
import re
import time
from typing import Any
import uuid

from .const import CHUNK_MAX_CHARS, DEFAULT_PRIORITY, PAYLOAD_MAX_BYTES, PRIORITIES

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
    source: str = "external"
    priority: str = DEFAULT_PRIORITY
    language: str | None = None
    timestamp: float = 0.0

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
) -> list[SpeechChunk]:
    """Return the ordered chunks of one utterance, sharing one id."""
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
        )
        for index, piece in enumerate(pieces, start=1)
    ]


def parse_payload(payload: bytes | bytearray | str) -> SpeechChunk:
    """Parse a `<base>/tts/text` payload: contract JSON or plain UTF-8 text.

    Raises PayloadError with reason too_large, not_utf8, empty, invalid_json or invalid_field.
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
            text=stripped, id=uuid.uuid4().hex, source="external", timestamp=time.time()
        )
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as err:
        raise PayloadError("invalid_json", f"invalid JSON: {err}") from err
    return _chunk_from_json(data)


def _chunk_from_json(data: dict[str, Any]) -> SpeechChunk:
    """Validate the contract's fields."""

    def field(name: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = data.get(name, default)
        if value is None and default is None:
            return None
        if not isinstance(value, kind) or isinstance(value, bool):
            raise PayloadError("invalid_field", f"field {name!r} has the wrong type")
        return value

    text = field("text", str, "")
    if not text.strip():
        raise PayloadError("invalid_field", "field 'text' is missing or empty")
    chunk = field("chunk", int, 1)
    total = field("total_chunks", int, 1)
    if not 1 <= chunk <= total:
        raise PayloadError("invalid_field", f"chunk {chunk} of {total} is out of range")
    priority = field("priority", str, DEFAULT_PRIORITY)
    if priority not in PRIORITIES:
        raise PayloadError("invalid_field", f"unknown priority {priority!r}")
    uid = field("id", (str, int), None)
    if uid is None and total > 1:
        raise PayloadError("invalid_field", "a chunked utterance needs an 'id'")
    timestamp = field("timestamp", (int, float), None)
    return SpeechChunk(
        text=text.strip(),
        id=str(uid) if uid is not None else uuid.uuid4().hex,
        chunk=chunk,
        total_chunks=total,
        source=field("source", str, "external"),
        priority=priority,
        language=field("language", str, None),
        timestamp=float(timestamp) if timestamp is not None else time.time(),
    )

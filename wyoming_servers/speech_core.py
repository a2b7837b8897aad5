"""Moxie's speech core: the MQTT contract and the cutting of text, authored once.

Standard library only, no imports from its package: the Home Assistant integration
(custom_components/moxie/speech_core.py, the authored file) and the pip services
(wyoming_servers/speech_core.py, a byte-identical copy made by `scripts/sync_core`, since HACS
installs only custom_components/moxie) both use it. tests/test_speech_core.py holds the copies
equal; custom_components/moxie/MQTT.md is its prose and tests/contract_cases.py its table of
cases.

What is here: the topic tree of one Moxie; the payloads of `<base>/tts/text` (speech chunks),
`<base>/tts/stop`, `<base>/tts/status` and the Speech event; sources, priorities and limits;
chunking at 400 characters; and the cutting of streamed text into speakable pieces (first
clause, sentences, Spanish ¿...?, abbreviations such as "Sr.").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
import json
import re
import time
from typing import Any, Final
import uuid

# -- names and limits ---------------------------------------------------------------------------

DEFAULT_BASE_TOPIC: Final = "moxie"
DISCOVERY_PREFIX: Final = "homeassistant"
HA_STATUS_TOPIC: Final = "homeassistant/status"

CHUNK_MAX_CHARS: Final = 400
"""A longer utterance travels as chunks of at most this many characters."""
PAYLOAD_MAX_BYTES: Final = 64 * 1024
"""A larger payload on `<base>/tts/text` is rejected as `too_large`."""
SAY_MAX_CHARS: Final = 10_000
"""The longest text Moxie accepts to say at once (`moxie.say`, the Puppet)."""
REASSEMBLY_TIMEOUT: Final = 30.0
"""Seconds the chunks of one utterance may take to arrive; then it is `incomplete`."""

SOURCE_ASSISTANT: Final = "assistant"
SOURCE_PUPPET: Final = "puppet"
SOURCE_ACTION: Final = "action"
SOURCE_SATELLITE: Final = "satellite"
SOURCE_ANNOUNCEMENT: Final = "announcement"
SOURCE_AUTOMATION: Final = "automation"
SOURCE_SCRIPT: Final = "script"
SOURCE_EXTERNAL: Final = "external"
SOURCES: Final = (
    SOURCE_ASSISTANT,
    SOURCE_PUPPET,
    SOURCE_ACTION,
    SOURCE_SATELLITE,
    SOURCE_ANNOUNCEMENT,
    SOURCE_AUTOMATION,
    SOURCE_SCRIPT,
    SOURCE_EXTERNAL,
)
"""The sources Moxie names; any other string is accepted and kept as it is."""

ASSISTANT_STATES: Final = ("idle", "listening", "thinking", "speaking")
"""`<base>/status`: what Moxie the assistant is doing."""
SPEAKER_IDLE: Final = "idle"
SPEAKER_SPEAKING: Final = "speaking"
SPEAKER_ERROR: Final = "error"
SPEAKER_STATES: Final = (SPEAKER_IDLE, SPEAKER_SPEAKING, SPEAKER_ERROR)
"""`<base>/tts/status`: what the speaker is doing."""
OUTCOMES: Final = ("played", "stopped", "cleared", "failed", "expired")
"""How an utterance left the speaker (`finished_outcome` of `<base>/tts/status`)."""
ONLINE: Final = "online"
OFFLINE: Final = "offline"


class Priority(IntEnum):
    """Speech priority: higher plays first; critical interrupts what is playing."""

    NORMAL = 0
    HIGH = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        """The name on the wire."""
        return self.name.lower()


PRIORITIES: Final = tuple(priority.label for priority in sorted(Priority, reverse=True))
"""The priorities' names, highest first: critical, high, normal."""
DEFAULT_PRIORITY: Final = Priority.NORMAL.label


def device_id(base_topic: str) -> str:
    """Return the MQTT device id of the Moxie on base_topic (the integration's and speaker's)."""
    return "moxie_" + re.sub(r"[^a-z0-9]+", "_", base_topic.lower()).strip("_")


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one Moxie, derived from its base topic."""

    base: str = DEFAULT_BASE_TOPIC
    discovery_prefix: str = DISCOVERY_PREFIX

    @property
    def tts_text(self) -> str:
        """The speech mirror: what a speaker must say."""
        return f"{self.base}/tts/text"

    @property
    def tts_stop(self) -> str:
        """Interrupt the speaker now."""
        return f"{self.base}/tts/stop"

    @property
    def tts_status(self) -> str:
        """The speaker's retained status."""
        return f"{self.base}/tts/status"

    @property
    def puppet_set(self) -> str:
        """Text Moxie says verbatim (the Puppet text entity's command topic)."""
        return f"{self.base}/puppet/set"

    @property
    def puppet_state(self) -> str:
        """What the Puppet text box shows: the line being said, then empty for the next one."""
        return f"{self.base}/puppet/state"

    @property
    def speech(self) -> str:
        """One Speech event per complete utterance, spoken or not."""
        return f"{self.base}/speech"

    @property
    def status(self) -> str:
        """The assistant's state: idle, listening, thinking or speaking."""
        return f"{self.base}/status"

    @property
    def availability(self) -> str:
        """The integration's availability."""
        return f"{self.base}/availability"

    @property
    def speaker_availability(self) -> str:
        """The speaker's availability (its last will)."""
        return f"{self.base}/speaker/availability"

    @property
    def speaker_volume(self) -> str:
        """The speaker's volume in percent (retained)."""
        return f"{self.base}/speaker/volume"

    @property
    def speaker_volume_set(self) -> str:
        """Set the speaker's volume."""
        return f"{self.base}/speaker/volume/set"

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth and last-will topic under this discovery prefix."""
        return f"{self.discovery_prefix}/status"

    @property
    def device_id(self) -> str:
        """The Moxie device's MQTT id."""
        return device_id(self.base)

    @property
    def discovery(self) -> str:
        """The integration's device discovery message."""
        return f"{self.discovery_prefix}/device/{self.device_id}/config"

    @property
    def speaker_discovery(self) -> str:
        """The speaker's device discovery message."""
        return f"{self.discovery_prefix}/device/{self.device_id}_speaker/config"


# -- `<base>/tts/text`: speech chunks ---------------------------------------------------------


class PayloadError(ValueError):
    """A payload the contract does not allow; `reason` is the counter key, `detail` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        """Keep the counter key and a readable detail."""
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def new_id() -> str:
    """Return a new utterance id."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class SpeechChunk:
    """One message on `<base>/tts/text`: a whole utterance or one chunk of it."""

    text: str
    id: str
    chunk: int = 1
    total_chunks: int = 1
    source: str = SOURCE_EXTERNAL
    priority: Priority = Priority.NORMAL
    language: str | None = None
    timestamp: float | None = None
    """Unix time the utterance was made; None: not given (the receiver's clock applies)."""
    group: str | None = None
    """Shared by the utterances of one answer: a stop ends the whole group."""
    plain: bool = False
    """Received as plain text (what OpenMoxie Español sends)."""

    def as_payload(self) -> str:
        """Return the contract's JSON for this chunk."""
        data: dict[str, Any] = {
            "text": self.text,
            "timestamp": self.timestamp,
            "source": self.source,
            "chunk": self.chunk,
            "total_chunks": self.total_chunks,
            "id": self.id,
            "priority": self.priority.label,
            "language": self.language,
        }
        if self.group is not None:
            data["group"] = self.group
        return json.dumps(data, ensure_ascii=False)


def build_speech(
    text: str,
    *,
    source: str,
    priority: Priority = Priority.NORMAL,
    language: str | None = None,
    utterance_id: str | None = None,
    group: str | None = None,
) -> list[SpeechChunk]:
    """Return the ordered chunks of one utterance (one chunk up to 400 characters)."""
    pieces = chunk_text(text)
    uid = utterance_id or new_id()
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
            group=group,
        )
        for index, piece in enumerate(pieces, start=1)
    ]


def decode(payload: bytes | bytearray | str) -> str:
    """Return payload as text: `too_large` over 64 KiB (checked first), `not_utf8`."""
    raw = payload.encode() if isinstance(payload, str) else bytes(payload)
    if len(raw) > PAYLOAD_MAX_BYTES:
        raise PayloadError("too_large", f"{len(raw)} bytes, over {PAYLOAD_MAX_BYTES}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PayloadError("not_utf8", f"not UTF-8: {err}") from err


def parse_speech(payload: bytes | bytearray | str) -> SpeechChunk:
    """Parse a `<base>/tts/text` payload: contract JSON or plain UTF-8 text.

    Raises PayloadError with reason too_large, not_utf8, empty, invalid_json or invalid_field;
    the rules are MQTT.md's "Field rules".
    """
    stripped = decode(payload).strip()
    if not stripped:
        raise PayloadError("empty", "empty payload")
    if not stripped.startswith("{"):
        return SpeechChunk(text=stripped, id=new_id(), plain=True)
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


def parse_priority(value: object) -> Priority:
    """Return the priority named by value (any case; None is normal); ValueError otherwise."""
    if value is None:
        return Priority.NORMAL
    if isinstance(value, str) and value.lower() in PRIORITIES:
        return Priority[value.upper()]
    raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")


def _chunk_from_json(data: dict[str, Any]) -> SpeechChunk:
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _invalid("text", "must be a non-blank string")
    chunk = _count(data, "chunk")
    total = _count(data, "total_chunks")
    if chunk > total:
        raise _invalid("chunk", f"{chunk} is over total_chunks {total}")
    try:
        priority = parse_priority(data.get("priority"))
    except ValueError as err:
        raise _invalid("priority", str(err)) from err
    uid = data.get("id")
    if isinstance(uid, bool) or not isinstance(uid, str | int | None) or uid == "":
        raise _invalid("id", "must be a non-empty string or an integer")
    if uid is None and total > 1:
        raise _invalid("id", "is needed when total_chunks > 1")
    timestamp = data.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float | None):
        raise _invalid("timestamp", "must be a number (Unix time)")
    group = data.get("group")
    if isinstance(group, bool) or not isinstance(group, str | int | None) or group == "":
        raise _invalid("group", "must be a non-empty string or an integer")
    source = _optional_str(data, "source")
    return SpeechChunk(
        text=text.strip(),
        id=new_id() if uid is None else str(uid),
        chunk=chunk,
        total_chunks=total,
        source=SOURCE_EXTERNAL if source is None else source,
        priority=priority,
        language=_optional_str(data, "language"),
        timestamp=None if timestamp is None else float(timestamp),
        group=None if group is None else str(group),
    )


def chunk_text(text: str, limit: int = CHUNK_MAX_CHARS) -> list[str]:
    """Split text into pieces of at most limit characters, at sentence, then word, boundaries.

    Joining the pieces with single spaces gives back the text with its white space folded (a
    word longer than limit is cut, so joining its pieces needs no space).
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return [text]
    return _pack((part for s in sentences(text) for part in _split_long(s, limit)), limit)


def sentences(text: str) -> list[str]:
    """Return the sentences of a whole text (white space folded)."""
    buffer = TextBuffer(Cut(clause_words=0, max_chars=len(text) + 1))
    buffer.add(text)
    found: list[str] = []
    while (piece := buffer.take(clause=False, final=True)) is not None:
        found.append(piece)
    return found


def _split_long(sentence: str, limit: int) -> list[str]:
    """Split one sentence longer than limit at word boundaries (a huge word is cut)."""
    if len(sentence) <= limit:
        return [sentence]
    words_ = (
        word[start : start + limit]
        for word in sentence.split(" ")
        for start in range(0, len(word), limit)
    )
    return _pack(words_, limit)


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


def join_chunks(parts: Iterable[str]) -> str:
    """Join chunk texts in order, with a space where a chunk boundary has none."""
    out = ""
    for text in parts:
        if out and not out[-1].isspace() and not text[:1].isspace():
            out += " "
        out += text
    return out


# -- `<base>/tts/stop` ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StopRequest:
    """An interrupt: the utterance being said ends, and the rest of its answer (its group).

    With clear_queue, everything waiting is dropped too.
    """

    reason: str | None = None
    clear_queue: bool = False

    def as_payload(self) -> str:
        """Return the contract's JSON."""
        return json.dumps({"reason": self.reason, "clear_queue": self.clear_queue})


def parse_stop(payload: bytes | bytearray | str) -> StopRequest:
    """Parse a `<base>/tts/stop` payload; anything that is not a JSON object is a plain stop."""
    try:
        text = decode(payload).strip()
    except PayloadError:
        return StopRequest(reason="invalid payload")
    if not text.startswith("{"):
        return StopRequest(reason=text or None)
    try:
        data = json.loads(text)
    except ValueError:
        return StopRequest(reason="invalid payload")
    if not isinstance(data, dict):
        return StopRequest()
    reason = data.get("reason")
    return StopRequest(
        reason=None if reason is None else str(reason), clear_queue=data.get("clear_queue") is True
    )


# -- `<base>/tts/status` ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeakerStatus:
    """What the speaker reports (retained) whenever it changes."""

    status: str = SPEAKER_IDLE
    current_text: str | None = None
    current_id: str | None = None
    """The utterance being spoken now."""
    queue_size: int = 0
    finished_id: str | None = None
    """The last utterance that left the speaker (played, stopped, cleared...)."""
    finished_outcome: str | None = None
    timestamp: str = ""

    @property
    def speaking(self) -> bool:
        """Whether the speaker is saying something now."""
        return self.status == SPEAKER_SPEAKING

    def as_payload(self) -> str:
        """Return the contract's JSON (the timestamp is now when it has none)."""
        return json.dumps(
            {
                "status": self.status,
                "current_text": self.current_text,
                "current_id": self.current_id,
                "queue_size": self.queue_size,
                "finished_id": self.finished_id,
                "finished_outcome": self.finished_outcome,
                "timestamp": self.timestamp or now_iso(),
            },
            ensure_ascii=False,
        )


def parse_status(payload: bytes | bytearray | str) -> SpeakerStatus:
    """Parse a `<base>/tts/status` payload; PayloadError when it is not the speaker's JSON.

    A speaker from before ids (no `current_id`, `finished_id`) parses with None for them.
    """
    try:
        data = json.loads(decode(payload))
    except ValueError as err:
        raise PayloadError("invalid_json", f"invalid JSON: {err}") from err
    if not isinstance(data, dict) or data.get("status") not in SPEAKER_STATES:
        raise _invalid("status", f"must be one of {', '.join(SPEAKER_STATES)}")
    queue_size = data.get("queue_size")
    return SpeakerStatus(
        status=data["status"],
        current_text=_lenient_str(data.get("current_text")),
        current_id=_lenient_str(data.get("current_id")),
        queue_size=queue_size if isinstance(queue_size, int) and queue_size > 0 else 0,
        finished_id=_lenient_str(data.get("finished_id")),
        finished_outcome=_lenient_str(data.get("finished_outcome")),
        timestamp=str(data.get("timestamp") or ""),
    )


def _lenient_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# -- `<base>/speech`: the Speech event --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Utterance:
    """One complete utterance: what the Speech event and the conversation show."""

    text: str
    id: str
    source: str = SOURCE_EXTERNAL
    priority: Priority = Priority.NORMAL
    language: str | None = None
    chunks: int = 1
    timestamp: float = field(default_factory=time.time)
    speak: bool = True
    """False: a voice satellite plays it, so it never went to `<base>/tts/text`."""
    satellite: str | None = None
    """The entity id of the satellite that plays it, for display."""
    group: str | None = None

    def event(self) -> dict[str, Any]:
        """Return the Speech event's JSON object (`<base>/speech`)."""
        return {
            "event_type": "speech",
            "text": self.text,
            "id": self.id,
            "source": self.source,
            "priority": self.priority.label,
            "language": self.language,
            "chunks": self.chunks,
            "timestamp": datetime.fromtimestamp(self.timestamp, UTC).isoformat(),
            "speak": self.speak,
            "satellite": self.satellite,
            "group": self.group,
        }


# -- cutting text into speakable pieces -------------------------------------------------------

# Closing quotes and brackets that stay with the punctuation before them.
_CLOSE = r"[\"'»”’)\]]*"  # noqa: RUF001
# The end of a sentence followed by white space, or right after a letter at the end of what
# arrived so far (not after a digit: 3.5 may follow). A new line ends a sentence too.
_SENTENCE = re.compile(
    rf"[.!?…。？！]+{_CLOSE}(?=\s)|(?<=[^\W\d_])[.!?…。？！]+{_CLOSE}$|\n+",  # noqa: RUF001
)
# A clause boundary: comma, semicolon or colon followed by white space (or right after a letter
# at the end of the text so far: "1,000" is not cut), a dash between words, or just before a
# Spanish ¿ or ¡ that opens a question or an exclamation inside a sentence.
_CLAUSE = re.compile(
    rf"[,;:、，；：]{_CLOSE}(?=\s)|(?<=[^\W\d_])[,;:]{_CLOSE}$|\s[-–—]+(?=\s)|(?<=\w)—(?=\w)|\s(?=[¿¡])"  # noqa: RUF001
)
# Abbreviations whose period does not end a sentence (English and Spanish).
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "sra", "srta", "st", "vs", "etc", "jr", "nº", "av",
    "avda", "dña", "ud", "uds", "vd", "e.g", "i.e",
})  # fmt: skip
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")  # noqa: RUF001
# Markup a model may write despite the persona, which a voice should not read out.
_MARKUP = re.compile(r"[*#`~]+")
_BULLET = re.compile(r"^\s*[-•]\s+", re.MULTILINE)


def speakable(text: str) -> str:
    """Return text without markup (emphasis, headings, bullets) and with white space folded."""
    return " ".join(_BULLET.sub(" ", _MARKUP.sub("", text)).split())


def words(text: str) -> int:
    """Count the words in text."""
    return len(_WORD.findall(text))


@dataclass(frozen=True, slots=True)
class Cut:
    """How eagerly to cut pieces out of the text."""

    clause_words: int = 2
    """Words a clause needs before it is cut on its own (0: never cut at clauses)."""

    max_chars: int = 240
    """A piece longer than this is cut at its last clause boundary, or at a space."""


class TextBuffer:
    """Text as it arrives; `take` returns the next piece worth saying, or None."""

    def __init__(self, cut: Cut) -> None:
        """Start empty."""
        self.cut = cut
        self._text = ""

    def add(self, text: str) -> None:
        """Append streamed text."""
        self._text += text

    @property
    def pending(self) -> str:
        """Text not yet taken."""
        return self._text

    def take(self, *, clause: bool, fallback: bool = False, final: bool) -> str | None:
        """Cut the next piece, or return None until there is one.

        A sentence is the usual piece. With `clause`, a clause that ends before the first
        sentence is cut alone; with `fallback`, only when no sentence has ended yet. With
        `final`, no more text comes, so the rest is a piece too.
        """
        while True:
            text = self._text
            end = self._sentence_end(text)
            if clause or (fallback and end is None):
                clause_end = self._clause_end(text, self.cut.clause_words)
                if clause_end is not None and (end is None or clause_end < end):
                    end = clause_end
            if end is None and len(text) > self.cut.max_chars:
                end = self._forced_end(text)
            if end is None and final and text.strip():
                end = len(text)
            if end is None:
                if not text.strip():
                    self._text = "" if final else text
                return None
            piece, self._text = text[:end], text[end:]
            piece = " ".join(piece.split())
            if any(char.isalnum() for char in piece):
                return piece
            # Punctuation or white space only: nothing to say, look further.

    def _sentence_end(self, text: str) -> int | None:
        for match in _SENTENCE.finditer(text):
            if match.group().startswith(".") and _abbreviation_before(text, match.start()):
                continue
            if match.end() > self.cut.max_chars:
                return None
            return match.end()
        return None

    def _clause_end(self, text: str, min_words: int) -> int | None:
        if min_words <= 0:
            return None
        for match in _CLAUSE.finditer(text):
            if match.end() > self.cut.max_chars:
                return None
            if words(text[: match.end()]) >= min_words:
                return match.end()
        return None

    def _forced_end(self, text: str) -> int:
        limit = self.cut.max_chars
        ends = [m.end() for m in _CLAUSE.finditer(text) if m.end() <= limit and m.start() > 0]
        if ends:
            return ends[-1]
        space = text.rfind(" ", 1, limit)
        return space if space > 0 else limit


def split_pieces(text: str, cut: Cut, *, first_clause: bool = True) -> list[str]:
    """Cut a whole text into pieces to say: the first clause alone (when allowed), sentences."""
    buffer = TextBuffer(cut)
    buffer.add(text)
    pieces: list[str] = []
    while (piece := buffer.take(clause=first_clause and not pieces, final=True)) is not None:
        pieces.append(piece)
    return pieces


def _abbreviation_before(text: str, dot: int) -> bool:
    start = dot
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot]
    return word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper())

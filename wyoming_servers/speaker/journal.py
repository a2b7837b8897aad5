"""Crash-safe journal of accepted speech: nothing accepted is lost when the process dies.

JSON lines in `<state dir>/speech-journal.jsonl`: one `part` record per accepted part (written,
flushed and fsynced before the part counts as accepted) and one `done` record when its utterance
finished (played, stopped, cleared, expired, failed). At start-up the parts without a `done`
record are handed back in their original order and the file is compacted to just those.

A part record holds the speech chunk's fields; a journal written by an older speaker (no
`group`, a `satellite` field) reads the same: missing fields take their defaults, unknown ones
are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import json
import logging
import os
from pathlib import Path
from typing import IO, Any

from wyoming_servers.speech_core import SOURCE_EXTERNAL, SpeechChunk, parse_priority

_LOGGER = logging.getLogger(__name__)

JOURNAL_NAME = "speech-journal.jsonl"
COMPACT_AFTER = 1000


@dataclass(slots=True)
class JournalState:
    """What a journal held at start-up."""

    pending: list[SpeechChunk] = field(default_factory=list)  # in the order they were accepted
    finished: list[str] = field(default_factory=list)  # ids with a completion record
    skipped: int = 0  # unreadable records (e.g. a line cut short by a crash)


def part_record(part: SpeechChunk) -> dict[str, Any]:
    """JSON-ready record of an accepted part."""
    return {
        "op": "part",
        "id": part.id,
        "chunk": part.chunk,
        "total_chunks": part.total_chunks,
        "text": part.text,
        "priority": part.priority.label,
        "source": part.source,
        "language": part.language,
        "timestamp": part.timestamp,
        "group": part.group,
    }


def parse_part(record: dict[str, Any]) -> SpeechChunk:
    """Rebuild a part from its record; ValueError/KeyError/TypeError when it is malformed."""
    part = SpeechChunk(
        id=str(record["id"]),
        text=str(record["text"]),
        chunk=int(record["chunk"]),
        total_chunks=int(record["total_chunks"]),
        priority=parse_priority(record["priority"]),
        source=_optional_str(record.get("source")) or SOURCE_EXTERNAL,  # older journals: null
        language=_optional_str(record.get("language")),
        timestamp=None if record.get("timestamp") is None else float(record["timestamp"]),
        group=_optional_str(record.get("group")),  # older journals: none
    )
    if not 1 <= part.chunk <= part.total_chunks:
        raise ValueError(f"chunk {part.chunk} of {part.total_chunks}")
    return part


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Journal:
    """Append-only record of accepted and finished utterances in one directory."""

    def __init__(self, directory: Path, *, compact_after: int = COMPACT_AFTER) -> None:
        """Journal into directory (created when missing); compact past compact_after records."""
        self.directory = directory
        self.path = directory / JOURNAL_NAME
        self.compact_after = compact_after
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._records = 0
        self._file: IO[str] | None = None

    def load(self) -> JournalState:
        """Read what the last run left, compact it and open the journal for appending."""
        self.directory.mkdir(parents=True, exist_ok=True)
        state = JournalState()
        self._pending = {}
        lines: list[str] = []
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            pass
        except OSError as err:
            _LOGGER.error("Cannot read speech journal %s (%s); starting empty", self.path, err)
        finished: dict[str, None] = {}
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                self._apply(json.loads(line), finished)
            except (ValueError, KeyError, TypeError) as err:
                state.skipped += 1
                where = "last line" if number == len(lines) else f"line {number}"
                _LOGGER.warning(
                    "Skipping unreadable speech journal record (%s of %s): %s",
                    where,
                    self.path,
                    err,
                )
        state.pending = [parse_part(r) for records in self._pending.values() for r in records]
        state.finished = list(finished)
        self.compact()
        return state

    def _apply(self, record: object, finished: dict[str, None]) -> None:
        if not isinstance(record, dict):
            raise TypeError("not a JSON object")
        op = record.get("op")
        if op == "part":
            parse_part(record)  # validate now: a bad record is skipped, not replayed
            self._pending.setdefault(str(record["id"]), []).append(record)
        elif op == "done":
            message_id = str(record["id"])
            self._pending.pop(message_id, None)
            finished[message_id] = None
        else:
            raise ValueError(f"unknown op {op!r}")

    def record_part(self, part: SpeechChunk) -> None:
        """Durably record an accepted part (returns once it is on disk)."""
        record = part_record(part)
        self._pending.setdefault(part.id, []).append(record)
        self._append(record)

    def record_done(self, message_id: str, outcome: str) -> None:
        """Record that an utterance finished; it will not be replayed."""
        if self._pending.pop(message_id, None) is None:
            return
        self._append({"op": "done", "id": message_id, "outcome": outcome})
        if self._records > self.compact_after:
            self.compact()

    def _append(self, record: dict[str, Any]) -> None:
        if self._file is None:
            _LOGGER.error("Speech journal %s is not open; %s not recorded", self.path, record)
            return
        try:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as err:
            _LOGGER.error("Cannot write speech journal %s: %s", self.path, err)
            return
        self._records += 1

    def compact(self) -> None:
        """Rewrite the journal with only the pending parts (temp file, fsync, atomic replace)."""
        self.close()
        temp = self.path.with_name(self.path.name + ".tmp")
        records = [r for records in self._pending.values() for r in records]
        try:
            with temp.open("w", encoding="utf-8") as out:
                out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
                out.flush()
                os.fsync(out.fileno())
            temp.replace(self.path)
            _fsync_dir(self.directory)
        except OSError as err:
            _LOGGER.error("Cannot compact speech journal %s: %s", self.path, err)
        else:
            self._records = len(records)
            _LOGGER.debug("Speech journal compacted: %s pending records", len(records))
        try:
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as err:
            _LOGGER.error("Cannot open speech journal %s: %s", self.path, err)

    def close(self) -> None:
        """Close the journal file."""
        if self._file is not None:
            self._file.close()
            self._file = None

"""Where to cut streamed text into pieces to synthesize: a clause first, then sentences."""

from __future__ import annotations

from dataclasses import dataclass
import re

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


@dataclass(frozen=True, slots=True)
class Cut:
    """How eagerly to cut pieces out of the text."""

    clause_words: int = 2
    """Words a clause needs before it is cut on its own (0: never cut at clauses)."""

    max_chars: int = 240
    """A piece longer than this is cut at its last clause boundary, or at a space."""


def words(text: str) -> int:
    """Count the words in text."""
    return len(_WORD.findall(text))


class TextBuffer:
    """Text as it arrives; `take` returns the next piece worth synthesizing, or None."""

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
        if not any(char.isalnum() for char in piece):
            # Punctuation or white space only: nothing to say, look further.
            return self.take(clause=clause, fallback=fallback, final=final)
        return piece

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


def split_text(text: str, cut: Cut, *, first_clause: bool = True) -> list[str]:
    """Cut a whole text: the first clause alone (when allowed), then sentences."""
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

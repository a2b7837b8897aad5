"""Whether a transcript stops where no Spanish or English sentence can: "¿por qué el...", "a".

Smart Turn hears how the words were said; this reads what was said. A question that stops on
an article, a preposition, a conjunction or a possessive ("¿cuántas patas tiene una...",
"how many legs does a...") is a child thinking, however finished it sounds, and so is a
transcript Whisper ends with an ellipsis.
"""

from __future__ import annotations

import re


def _words(text: str) -> list[str]:
    return text.split()


# Accents matter: "que", "como", "si", "tu", "mi", "el" never end a sentence; "qué", "cómo", "sí",
# "tú", "mí", "él" may ("¿y tú?"). Whisper writes them apart, so words are compared as written.
UNFINISHED_ES = frozenset(
    _words(
        """
        el la los las un una unos unas al del de a en con por para sin sobre entre hasta desde
        hacia según tras y e o u ni pero sino que porque pues si como cuando donde mientras
        aunque mi mis tu tus su sus nuestro nuestra nuestros nuestras muy tan
        """
    )
)
# Only what cannot end an English sentence ("what is that?", "when?", "I want more" can).
UNFINISHED_EN = frozenset(
    _words(
        """
        the a an of to in at by for from with about into onto than and or but nor because
        although though my your his its our their very
        """
    )
)
UNFINISHED = {"es": UNFINISHED_ES, "en": UNFINISHED_EN}
# "mí" and "ti" only follow a preposition ("para mí", "a ti"); after anything else Whisper put an
# accent on the possessive "mi" ("¿cómo se llama mí..." for "¿cómo se llama mi... perro?").
AFTER_PREPOSITION_ES = frozenset(_words("mí ti"))
PREPOSITIONS_ES = frozenset(
    _words("a ante bajo con contra de desde en entre hacia hasta para por según sin sobre tras")
)
_WORD = re.compile(r"\w+", re.UNICODE)
_TRAILING_ELLIPSIS = re.compile(r"(\.\.\.|…)\s*$")


def unfinished(transcript: str, language: str | None = None) -> bool:
    """Whether the transcript stops mid-sentence (both languages' words when none is given)."""
    text = transcript.strip()
    if not text:
        return False
    if _TRAILING_ELLIPSIS.search(text):
        return True
    words = _WORD.findall(text.lower())
    if not words:
        return False
    base = (language or "").split("-")[0].split("_")[0].lower()
    endings = UNFINISHED.get(base) or UNFINISHED_ES | UNFINISHED_EN
    if words[-1] in AFTER_PREPOSITION_ES and base in {"es", ""}:
        return len(words) < 2 or words[-2] not in PREPOSITIONS_ES
    return words[-1] in endings

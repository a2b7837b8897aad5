"""The words that hold a turn open: a transcript that stops where no sentence can."""

from __future__ import annotations

import pytest

from wyoming_servers.turn.words import unfinished


@pytest.mark.parametrize(
    ("transcript", "language"),
    [
        ("¿Cuántas patas tiene una", "es"),
        ("¿Por qué el", "es"),
        ("¿Qué comen los pingüinos en", "es"),
        ("Quiero saber por qué el cielo es azul porque", "es"),
        ("Mi perro se llama... ", "es"),
        ("¿Me cuentas un cuento de", "es-ES"),
        ("¡Como se llama mí!", "es"),  # Whisper's accent on "mi"
        ("How many legs does a", "en"),
        ("Can you tell me a story about", "en"),
        ("What is the name of", "en"),
        ("Why is the sky…", "en"),
        ("Where do penguins live in the", None),
    ],
)
def test_a_question_stopped_mid_sentence_is_unfinished(
    transcript: str, language: str | None
) -> None:
    assert unfinished(transcript, language)


@pytest.mark.parametrize(
    ("transcript", "language"),
    [
        ("¿Por qué el cielo es azul?", "es"),
        ("¿Y tú?", "es"),  # "tú", not "tu"
        ("¿Es para mí?", "es"),  # "mí" after a preposition
        ("Me acuerdo de ti", "es"),
        ("¿Cómo?", "es"),  # "cómo", not "como"
        ("¿Qué?", "es"),
        ("¿Por qué?", "es"),
        ("Sí", "es"),
        ("What is that?", "en"),
        ("When?", "en"),
        ("I want more", "en"),
        ("How many legs does a spider have?", "en"),
        ("", "en"),
    ],
)
def test_a_finished_question_is_not(transcript: str, language: str | None) -> None:
    assert not unfinished(transcript, language)


def test_each_language_has_its_own_words() -> None:
    # "con" ends no Spanish sentence; in English it is a word like any other.
    assert unfinished("Quiero jugar con", "es")
    assert not unfinished("Quiero jugar con", "en")

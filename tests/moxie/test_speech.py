"""Splitting and parsing of the speech mirror payload."""

from __future__ import annotations

import pytest

from custom_components.moxie.speech import PayloadError, parse_payload, split_text


@pytest.mark.parametrize(
    "text",
    [
        "Hola.",
        "¿Quieres jugar? ¡Claro que sí! " * 40,
        "palabra " * 300,
        "x" * 1234,  # one huge "word" is cut
        "Una frase muy larga " + "sin puntos " * 80 + "y al final un punto. Y otra más.",
        "  espacios   raros \n\t entre   palabras. " * 30,
    ],
)
def test_split_text_keeps_every_word_in_order(text: str) -> None:
    pieces = split_text(text)
    assert all(0 < len(piece) <= 400 for piece in pieces)
    assert " ".join(pieces) == " ".join(text.split()) or "".join(pieces) == text


def test_split_prefers_sentence_boundaries() -> None:
    sentence = "Esta es una frase de unos cincuenta caracteres más o menos. "
    pieces = split_text(sentence * 20)
    assert len(pieces) > 1
    assert all(piece.endswith(".") for piece in pieces)


def test_plain_text_is_one_normal_utterance() -> None:
    chunk = parse_payload("  Hola, ¿qué tal?  ".encode())
    assert (chunk.text, chunk.priority, chunk.chunk, chunk.total_chunks) == (
        "Hola, ¿qué tal?",
        "normal",
        1,
        1,
    )
    assert chunk.source == "external"


def test_json_fields_are_read() -> None:
    chunk = parse_payload(
        '{"text": "b", "chunk": 2, "total_chunks": 3, "id": 7, "priority": "critical",'
        ' "source": "x", "language": "en", "timestamp": 5}'
    )
    assert (chunk.text, chunk.chunk, chunk.total_chunks, chunk.id) == ("b", 2, 3, "7")
    assert (chunk.priority, chunk.source, chunk.language, chunk.timestamp) == (
        "critical",
        "x",
        "en",
        5.0,
    )


@pytest.mark.parametrize(
    "payload",
    [
        '{"text": "a", "chunk": true}',
        '{"text": "a", "total_chunks": 0}',
        '{"text": "a", "chunk": 2, "total_chunks": 2}',
        '{"text": ["a"]}',
        '{"text": "a", "language": 3}',
    ],
)
def test_invalid_fields(payload: str) -> None:
    with pytest.raises(PayloadError) as err:
        parse_payload(payload)
    assert err.value.reason == "invalid_field"

"""Finding memories and dating facts: the pure parts of Moxie's memory (no Home Assistant)."""

from __future__ import annotations

from datetime import date

import pytest

from custom_components.moxie.memory_dates import fact_date, parse_day
from custom_components.moxie.memory_search import fold, search, terms

WEDNESDAY = date(2026, 12, 2)

FACTS = [
    ("dog", "Mi perro se llama Toby."),
    ("name", "Me llamo Lucía y tengo siete años."),
    ("color", "Mi color favorito es el verde."),
    ("trip", "El viernes tengo excursión al museo."),
    ("fear", "Me dan miedo las tormentas."),
    ("cat", "My cat is called Whiskers."),
    ("food", "My favourite food is pancakes with honey."),
    ("school", "My school is called Green Park."),
]


def test_words_are_folded_and_stemmed() -> None:
    assert fold("Lucía, CAMIÓN, niño") == "lucia, camion, niño"
    assert terms("Mis perros") == terms("mi perro")
    assert terms("¿Cómo me llamo?") == terms("mi nombre") == terms("What's my name?")
    assert terms("llama") == terms("called")
    assert terms("the birthday") == terms("cumpleaños")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("¿Cómo se llama mi perro?", "dog"),
        ("¿Cuál es mi nombre?", "name"),
        ("¿Qué color me gusta?", "color"),
        ("¿Qué tengo el viernes?", "trip"),
        ("¿De qué tengo miedo?", "fear"),
        ("What is my cat's name?", "cat"),
        ("What food do I like?", "food"),
        ("What's my school called?", "school"),
    ],
)
def test_the_right_fact_comes_first(question: str, expected: str) -> None:
    assert search(FACTS, question, 3)[0] == expected


def test_nothing_shared_finds_nothing() -> None:
    assert search(FACTS, "xyz qwerty", 3) == []
    assert search([], "perro", 3) == []


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("El viernes tengo excursión", date(2026, 12, 4)),
        ("Mañana voy al dentista", date(2026, 12, 3)),
        ("Pasado mañana viene la abuela", date(2026, 12, 4)),
        ("Hoy es el festival", WEDNESDAY),
        ("Esta noche viene la abuela a cenar", WEDNESDAY),
        ("El miércoles que viene hay examen", date(2026, 12, 9)),
        ("El miércoles juego al fútbol", WEDNESDAY),
        ("On Saturday we go to the beach", date(2026, 12, 5)),
        ("Tomorrow is pajama day", date(2026, 12, 3)),
        ("Next Monday is picture day", date(2026, 12, 7)),
        ("El 24 de diciembre viene Papá Noel", date(2026, 12, 24)),
        ("Grandma visits on January 3rd", date(2027, 1, 3)),
        ("The play is on 2026-12-18", date(2026, 12, 18)),
    ],
)
def test_dated_facts(text: str, day: date) -> None:
    assert fact_date(text, WEDNESDAY) == day


@pytest.mark.parametrize(
    "text",
    [
        "Mi perro se llama Toby",
        "Los viernes voy a natación",
        "Mi cumpleaños es el 5 de mayo",
        "My birthday is on March 3",
        "Every Monday I have piano",
        "Me gusta desayunar por la mañana",
        "Hoy he aprendido a nadar",
        "Esta mañana se me ha caído un diente",
        "Today I learned to ride my bike",
        "I've lost a tooth today",
    ],
)
def test_timeless_and_recurring_facts_do_not_expire(text: str) -> None:
    assert fact_date(text, WEDNESDAY) is None


def test_a_day_the_model_gives() -> None:
    assert parse_day("2026-12-04") == date(2026, 12, 4)
    assert parse_day("2026-12-04T10:00") == date(2026, 12, 4)
    assert parse_day("el viernes") is None

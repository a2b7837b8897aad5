"""Benchmark: does Moxie's memory find the right fact, and how much does it add to a prompt.

A held set of facts a child tells Moxie, each with a later question about it, in Spanish and in
English (written for this benchmark, not used to tune the search), is stored among distractors
(other plausible facts of the same family, built from templates) up to 200 memories. For every
question:

- recall@3: whether the fact it is about is among the three memories offered with it;
- prompt characters: what the memory part of the system prompt adds to the question.

Compared, on the same memories: Moxie's search (BM25 over folded, stemmed Spanish and English
words, `memory_search.py`), the same BM25 on raw words (no folding, stemming nor synonyms),
the three most recent memories (no search), and sending the whole memory list (what a prompt
without search carries: recall is trivially complete, the prompt grows with every memory).
The prompt growth is also shown for 50 to 800 stored memories.

Run: .venv/bin/python bench/memory_bench.py [--stored 200] [--seed 7]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
import os
from pathlib import Path
import random
import re
import statistics
import sys
import time

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.moxie.memory import Memory  # noqa: E402
from custom_components.moxie.memory_llm import memory_prompt  # noqa: E402
from custom_components.moxie.memory_search import Index  # noqa: E402

# (fact told, later question): the held set.
HELD: dict[str, list[tuple[str, str]]] = {
    "es": [
        ("Me llamo Lucía.", "¿Te acuerdas de cómo me llamo?"),
        ("Mi perro se llama Toby.", "¿Cómo se llamaba mi perro?"),
        ("Tengo siete años.", "¿Cuántos años tengo?"),
        ("Mi color favorito es el verde.", "¿Cuál es mi color preferido?"),
        ("El viernes tengo excursión al museo.", "¿Qué tengo el viernes?"),
        ("Me dan miedo las tormentas.", "¿Sabes qué me da miedo?"),
        ("Mi mejor amiga se llama Carla.", "¿Cómo se llama mi mejor amiga?"),
        ("Soy alérgica a los cacahuetes.", "¿A qué soy alérgica?"),
        ("Mi comida favorita son los macarrones.", "¿Qué comida me gusta más?"),
        ("Juego al baloncesto los martes.", "¿Qué deporte hago?"),
        ("Mi hermano pequeño se llama Leo.", "¿Cómo se llama mi hermano?"),
        ("Mi cumpleaños es el 12 de marzo.", "¿Cuándo es mi cumpleaños?"),
        ("Quiero ser astronauta de mayor.", "¿Qué quiero ser de mayor?"),
        ("Mi profe se llama Marta.", "¿Cómo se llama mi profesora?"),
        ("Voy al colegio Los Pinos.", "¿A qué colegio voy?"),
        (
            "Me encantan los dinosaurios, sobre todo el triceratops.",
            "¿Cuál es mi dinosaurio favorito?",
        ),
        ("Mi abuela vive en Sevilla.", "¿Dónde vive mi abuela?"),
        ("Toco el piano desde el verano.", "¿Qué instrumento toco?"),
        ("Se me ha caído un diente.", "¿Qué me ha pasado en la boca?"),
        ("Mi libro favorito es Harry Potter.", "¿Qué libro me gusta?"),
        ("No me gustan nada las espinacas.", "¿Qué verdura odio?"),
        ("Mi gato Nube duerme en mi cama.", "¿Dónde duerme mi gato?"),
        ("Estoy aprendiendo a montar en bici sin ruedines.", "¿Qué estoy aprendiendo?"),
        ("En verano vamos a la playa de Cádiz.", "¿Adónde vamos en vacaciones?"),
        ("Mi película favorita es Frozen.", "¿Qué peli me gusta más?"),
    ],
    "en": [
        ("My name is Oliver.", "Do you remember my name?"),
        ("My dog is called Max.", "What's my dog's name?"),
        ("I am six years old.", "How old am I?"),
        ("My favourite colour is blue.", "What colour do I like best?"),
        ("On Friday we have a school trip to the zoo.", "What are we doing on Friday?"),
        ("I'm scared of the dark.", "What am I afraid of?"),
        ("My best friend is Sam.", "Who is my best friend?"),
        ("I'm allergic to peanuts.", "What am I allergic to?"),
        ("Pizza is my favourite food.", "What food do I like most?"),
        ("I play football on Saturdays.", "What sport do I play?"),
        ("My little sister is called Mia.", "What's my sister's name?"),
        ("My birthday is on the 4th of July.", "When is my birthday?"),
        ("I want to be a vet when I grow up.", "What do I want to be when I grow up?"),
        ("My teacher is Mr Brown.", "Who is my teacher?"),
        ("I go to Oakwood Primary School.", "Which school do I go to?"),
        ("I love sharks, especially hammerheads.", "Which shark do I love?"),
        ("Grandpa lives in Scotland.", "Where does my grandpa live?"),
        ("I'm learning to play the violin.", "What instrument am I learning?"),
        ("I lost my first tooth yesterday.", "What happened to my tooth?"),
        ("My favourite book is The Gruffalo.", "What book do I like?"),
        ("I really don't like broccoli.", "Which vegetable do I hate?"),
        ("My hamster Nibbles sleeps all day.", "What does my hamster do all day?"),
        ("I can swim without armbands now.", "What can I do in the pool now?"),
        ("We go camping in the mountains every summer.", "Where do we go in the summer?"),
        ("My favourite film is Toy Story.", "Which movie do I like best?"),
    ],
}

# Distractors: other facts of the same family, from templates.
_FILL = {
    "es": (
        [
            "Mi primo {n} tiene un {a} que se llama {m}.",
            "A {n} le gusta mucho {f}.",
            "{n} va a clase de {s} los {d}.",
            "La tía {n} vive en {c}.",
            "El {a} de {n} come {f}.",
            "{n} quiere ir a {c} en {s}.",
            "Mañana {n} trae {f} al cole.",
            "{n} tiene miedo de los {a}s.",
        ],
        {
            "n": ["Pablo", "Sara", "Hugo", "Inés", "Mateo", "Alba", "Nico", "Vera", "Dani", "Lola"],
            "a": ["loro", "conejo", "pez", "caballo", "hámster", "pato", "tortuga", "lagarto"],
            "m": ["Pipo", "Coco", "Luna", "Rayo", "Bola", "Kiwi", "Chispa", "Trufa"],
            "f": ["la pizza", "el helado", "las fresas", "el queso", "las lentejas", "el pan"],
            "s": ["natación", "judo", "música", "dibujo", "ajedrez", "teatro", "inglés"],
            "d": ["lunes", "miércoles", "jueves", "sábados"],
            "c": ["Madrid", "Bilbao", "Valencia", "Granada", "Lisboa", "París", "Roma"],
        },
    ),
    "en": (
        [
            "My cousin {n} has a {a} called {m}.",
            "{n} really likes {f}.",
            "{n} goes to {s} class on {d}.",
            "Aunt {n} lives in {c}.",
            "{n}'s {a} eats {f}.",
            "{n} wants to visit {c} for {s} camp.",
            "Tomorrow {n} brings {f} to school.",
            "{n} is scared of {a}s.",
        ],
        {
            "n": ["Jack", "Emma", "Noah", "Lily", "Leo", "Ava", "Ben", "Zoe", "Tom", "Ella"],
            "a": ["parrot", "rabbit", "fish", "horse", "lizard", "duck", "turtle", "snake"],
            "m": ["Pip", "Coco", "Luna", "Flash", "Bubbles", "Kiwi", "Sparky", "Fudge"],
            "f": ["ice cream", "strawberries", "cheese", "pasta", "bread", "apples"],
            "s": ["swimming", "judo", "music", "drawing", "chess", "drama", "French"],
            "d": ["Mondays", "Wednesdays", "Thursdays", "Sundays"],
            "c": ["London", "Leeds", "Dublin", "Paris", "Rome", "Oslo", "Madrid"],
        },
    ),
}


def distractors(language: str, count: int, rng: random.Random) -> list[str]:
    templates, words = _FILL[language]
    found: set[str] = set()
    while len(found) < count:
        template = rng.choice(templates)
        found.add(re.sub(r"\{(\w)\}", lambda m: rng.choice(words[m[1]]), template))
    return sorted(found)


_RAW = re.compile(r"\w+")


def raw_words(text: str) -> list[str]:
    """Lower-case words as written: no accents folded, no stems, no synonyms, no stop words."""
    return _RAW.findall(text.lower())


def raw_index(documents: Sequence[tuple[str, str]]) -> Index:
    """Return the same BM25 over raw words."""
    return Index(documents, raw_words)


@dataclass
class Result:
    """How one method did."""

    name: str
    hits: int = 0
    asked: int = 0
    prompt_chars: list[int] | None = None
    search_ms: list[float] | None = None


def memories_of(texts: list[str], language: str) -> list[Memory]:
    return [
        Memory(
            id=f"{number:08x}",
            scope="user:x",
            text=text,
            language=language,
            created=f"2026-12-01T10:{number // 60:02d}:{number % 60:02d}+00:00",
        )
        for number, text in enumerate(texts)
    ]


def run(stored: int, seed: int) -> tuple[list[Result], dict[int, tuple[float, float]]]:
    rng = random.Random(seed)
    methods: dict[str, Callable[[list[Memory], str], list[Memory]]] = {}

    def bm25(
        index_class: Callable[[Sequence[tuple[str, str]]], Index],
    ) -> Callable[[list[Memory], str], list[Memory]]:
        def top(memories: list[Memory], question: str) -> list[Memory]:
            # Built for every question, as Moxie's store does (the timing includes it).
            index = index_class([(m.id, m.text) for m in memories])
            by_id = {m.id: m for m in memories}
            return [by_id[k] for k in index.top(question, 3)]

        return top

    methods["Moxie: BM25, folded + stemmed"] = bm25(Index)
    methods["BM25 on raw words"] = bm25(raw_index)
    methods["3 most recent, no search"] = lambda memories, _q: memories[-3:]
    methods["whole memory list"] = lambda memories, _q: memories

    results = {name: Result(name, prompt_chars=[], search_ms=[]) for name in methods}
    for language, held in HELD.items():
        fill = distractors(language, stored - len(held), rng)
        texts = [fact for fact, _question in held] + fill
        rng.shuffle(texts)
        memories = memories_of(texts, language)
        for fact, question in held:
            for name, method in methods.items():
                result = results[name]
                start = time.perf_counter()
                offered = method(memories, question)
                assert result.search_ms is not None
                assert result.prompt_chars is not None
                result.search_ms.append((time.perf_counter() - start) * 1000)
                result.asked += 1
                result.hits += any(memory.text == fact for memory in offered)
                result.prompt_chars.append(len(memory_prompt(offered, language, None)))

    growth: dict[int, tuple[float, float]] = {}
    for count in (50, 100, 200, 400, 800):
        held = HELD["es"]
        texts = [fact for fact, _q in held] + distractors("es", count - len(held), rng)
        memories = memories_of(texts, "es")
        index = Index([(m.id, m.text) for m in memories])
        by_id = {m.id: m for m in memories}
        ours = statistics.mean(
            len(memory_prompt([by_id[k] for k in index.top(q, 3)], "es", None)) for _fact, q in held
        )
        growth[count] = (ours, len(memory_prompt(memories, "es", None)))
    return list(results.values()), growth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stored", type=int, default=200, help="memories stored per language")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    load = os.getloadavg()
    results, growth = run(args.stored, args.seed)
    questions = results[0].asked
    print(
        f"Moxie's memory: {questions} questions ({questions // 2} Spanish, {questions // 2} "
        f"English), each among {args.stored} stored memories; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    print()
    print("| method | recall@3 | prompt chars per turn (mean) | ms per question (median) |")
    print("|---|---|---|---|")
    for result in results:
        assert result.prompt_chars
        assert result.search_ms
        print(
            f"| {result.name} | {result.hits}/{result.asked} "
            f"({100 * result.hits / result.asked:.0f}%) | "
            f"{statistics.mean(result.prompt_chars):,.0f} | "
            f"{statistics.median(result.search_ms):.2f} |"
        )
    print()
    print("| memories stored | Moxie: prompt chars per turn | whole list: prompt chars per turn |")
    print("|---|---|---|")
    for count, (ours, whole) in growth.items():
        print(f"| {count} | {ours:,.0f} | {whole:,.0f} |")


if __name__ == "__main__":
    main()

"""Finding the memories a question is about: BM25 over Spanish and English words, stdlib only.

Small on purpose (a household keeps hundreds of memories, not millions): words are folded
(lower case, no accents), stop words dropped, and cut to a short stem, so "perros", "Perro" and
"perrito" meet, and "llamo" meets "llama". A few everyday words that mean the same to a child
("nombre", "llamo"; "cumple", "cumpleaños"; "name", "called") are joined. Also used by
`bench/memory_bench.py`, so this module imports nothing from Home Assistant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
import functools
import math
import re
import unicodedata

_WORD = re.compile(r"[a-z0-9ñ]+")
STEM = 5

_STOP_TEXT = """
a al algo con de del el en es esa ese eso esta este esto la las le les lo los me mi mis
mucho muy no o para pero por que quien se si sin son su sus te tengo ti tu tus un una uno
unos unas y ya yo cual cuales como donde cuando hay ha he han era fue ser estar soy eres
what which who whom whose is are was were be been am the a an and or of to in on at for
with my your his her its our their me you he she it we they i do does did have has had
not no this that these those there here about from by as so if than then too very can
will would should tell know remember recuerdas sabes dime acuerdas im ive id ill dont
doesnt didnt cant isnt arent wont whats thats
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

# Words a child uses for the same thing: each is searched as the first one of its group.
SAME: tuple[tuple[str, ...], ...] = (
    ("llam", "nombre", "name", "called", "call"),
    ("cumpl", "cumpleanos", "birthday", "born", "naci", "nacio"),
    ("gusta", "encanta", "favorito", "favorita", "favourite", "favorite", "like", "likes", "love"),
    ("color", "colour"),
    ("perro", "perrito", "dog", "puppy", "mascota", "pet"),
    ("gato", "gatito", "cat", "kitten"),
    ("colegio", "escuela", "cole", "school"),
    ("miedo", "asusta", "afraid", "scared", "fear"),
    ("hermano", "hermana", "brother", "sister", "sibling"),
    ("comer", "comida", "food", "eat"),
    ("excursion", "trip", "outing"),
)


def fold(text: str) -> str:
    """Lower case without accents (ñ kept, as Spanish spells it)."""
    text = text.lower().replace("ñ", "\0")
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return plain.replace("\0", "ñ")


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("es") and word[-3] not in "aeiou":
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s"):
        word = word[:-1]
    return word[:STEM]


# One's own name is the first thing a child tells: its phrasings become one term.
PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:me llamo|mi nombre|my name|i am called|i'm called)\b"), " minombre "),
)
_GROUPS: dict[str, str] = {_stem(word): _stem(group[0]) for group in SAME for word in group}


@functools.cache
def _canonical(stem: str) -> str:
    """Return the group a stem belongs to: exactly, or by a prefix of four letters or more."""
    if stem in _GROUPS:
        return _GROUPS[stem]
    for word, group in _GROUPS.items():
        if len(word) >= 4 and stem.startswith(word):
            return group
    return stem


def terms(text: str) -> list[str]:
    """Return the searchable terms of text."""
    folded = fold(text).replace("'", "").replace("\u2019", "")  # "I'm" is one word
    for pattern, term in PHRASES:
        folded = pattern.sub(term, folded)
    return [_canonical(_stem(word)) for word in _WORD.findall(folded) if word not in STOP_WORDS]


class Index:
    """BM25 over a few hundred short documents, rebuilt whenever they change (cheap)."""

    K1 = 1.2
    B = 0.75

    def __init__(
        self,
        documents: Iterable[tuple[str, str]],
        analyze: Callable[[str], list[str]] = terms,
    ) -> None:
        """Index (key, text) pairs; `analyze` turns a text into terms (Moxie's by default)."""
        self.analyze = analyze
        self.keys: list[str] = []
        self._bags: list[Counter[str]] = []
        frequency: Counter[str] = Counter()
        for key, text in documents:
            bag = Counter(analyze(text))
            self.keys.append(key)
            self._bags.append(bag)
            frequency.update(bag.keys())
        count = len(self.keys)
        self._idf = {
            term: math.log(1 + (count - seen + 0.5) / (seen + 0.5))
            for term, seen in frequency.items()
        }
        lengths = [sum(bag.values()) for bag in self._bags]
        self._lengths = lengths
        self._average = (sum(lengths) / count) if count else 0.0

    def scores(self, query: str) -> list[tuple[str, float]]:
        """Return (key, score) of the documents sharing a term with query, best first."""
        wanted = set(self.analyze(query))
        results: list[tuple[str, float]] = []
        for key, bag, length in zip(self.keys, self._bags, self._lengths, strict=True):
            score = 0.0
            for term in wanted & bag.keys():
                tf = bag[term]
                norm = tf + self.K1 * (1 - self.B + self.B * length / (self._average or 1.0))
                score += self._idf[term] * tf * (self.K1 + 1) / norm
            if score > 0:
                results.append((key, score))
        results.sort(key=lambda pair: -pair[1])
        return results

    def top(self, query: str, k: int) -> list[str]:
        """Return the keys of the k documents that best match query."""
        return [key for key, _score in self.scores(query)[:k]]


def search(documents: Sequence[tuple[str, str]], query: str, k: int) -> list[str]:
    """Return the keys of the k documents that best match query (none that share no term)."""
    return Index(documents).top(query, k)

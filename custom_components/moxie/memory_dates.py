"""When a dated memory stops being true: "el viernes tengo excursión" is over after Friday.

Understands the few ways a child dates something, in Spanish and English: today, tomorrow, the
day after tomorrow, a weekday ("el viernes", "on Friday", "next Monday"), a day of a month
("el 5 de diciembre", "December 5th", "5 December") and ISO dates (2026-12-05). The memory
expires at the end of that day, local time. Stdlib only.
"""

from __future__ import annotations

from datetime import date, timedelta
import re

from .memory_search import fold

WEEKDAYS = {
    "lunes": 0,
    "martes": 1,
    "miercoles": 2,
    "jueves": 3,
    "viernes": 4,
    "sabado": 5,
    "domingo": 6,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
MONTHS = {
    **{
        name: number
        for number, name in enumerate(
            [
                "enero",
                "febrero",
                "marzo",
                "abril",
                "mayo",
                "junio",
                "julio",
                "agosto",
                "septiembre",
                "octubre",
                "noviembre",
                "diciembre",
            ],
            start=1,
        )
    },
    **{
        name: number
        for number, name in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ],
            start=1,
        )
    },
    "setiembre": 9,
}
_RELATIVE = (
    (re.compile(r"\bpasado mañana\b|\bday after tomorrow\b"), 2),
    # "mañana" is also the morning: "por la mañana", "esta mañana" are not tomorrow.
    (re.compile(r"(?<!la )(?<!esta )\bmañana\b|\btomorrow\b"), 1),
    (re.compile(r"\besta (?:noche|tarde|mañana)\b|\bhoy\b|\btoday\b|\btonight\b"), 0),
)
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_MONTH_NAMES = "|".join(MONTHS)
_DAY_OF_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:de\s+|of\s+)?({_MONTH_NAMES})\b")
_MONTH_DAY = re.compile(rf"\b({_MONTH_NAMES})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b")
# What comes back every week or year is not over after the day: "los viernes", "mi cumpleaños".
_RECURRING = re.compile(
    rf"\blos (?:{'|'.join(WEEKDAYS)})\b|\bcada\b|\btodos los\b|\bevery\b|\bsiempre\b|"
    r"\balways\b|cumple|birthday|\bnaci|\bborn\b|aniversario|anniversary"
)
# Something that already happened is worth keeping: "hoy he aprendido a nadar" stays true.
_PAST = (
    "lost|learned|learnt|got|went|won|fell|broke|broken|met|saw|seen|found|made|had|finished|"
    "started|visited|moved|bought|built|took|taken|became|drew|wrote|written|read"
)
_DONE = re.compile(
    r"\b(?:he|has|ha|hemos|habeis|han)\s+\w+(?:ado|ido|to|cho|sto)\b|"
    rf"\b(?:have|has|ive|weve|youve|theyve)\s+(?:\w+ed|{_PAST})\b|"
    rf"\b(?:i|we|he|she|they)\s+(?:{_PAST})\b"
)
_WEEKDAY = re.compile(rf"\b(?:(next|proximo)\s+)?({'|'.join(WEEKDAYS)})\b(?:\s+(que viene))?")


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _in_year(today: date, month: int, day: int) -> date | None:
    """Return the next such day: this year's, or next year's once this year's is past."""
    found = _safe_date(today.year, month, day)
    if found is not None and found < today:
        found = _safe_date(today.year + 1, month, day)
    return found


def fact_date(text: str, today: date) -> date | None:
    """Return the day text is about, when it names one (None for timeless facts)."""
    folded = fold(text)
    if _RECURRING.search(folded) or _DONE.search(folded.replace("'", "")):
        return None
    if match := _ISO.search(folded):
        return _safe_date(int(match[1]), int(match[2]), int(match[3]))
    if match := _DAY_OF_MONTH.search(folded):
        return _in_year(today, MONTHS[match[2]], int(match[1]))
    if match := _MONTH_DAY.search(folded):
        return _in_year(today, MONTHS[match[1]], int(match[2]))
    for pattern, days in _RELATIVE:
        if pattern.search(folded):
            return today + timedelta(days=days)
    if match := _WEEKDAY.search(folded):
        ahead = (WEEKDAYS[match[2]] - today.weekday()) % 7
        if match[1] or match[3]:
            ahead = ahead or 7
        return today + timedelta(days=ahead)
    return None


def parse_day(value: str) -> date | None:
    """Read a date the model gave (ISO), None when it is not one."""
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None

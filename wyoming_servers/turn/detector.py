"""When the child's turn is over: a VAD for silence, Smart Turn v3 for whether the words are done.

Silence alone cannot tell "¿por qué... el cielo es azul?" (a child thinking) from a finished
question. Smart Turn v3 (pipecat-ai, BSD-2) is a small Whisper-encoder classifier that hears the
last 8 s of a turn and says how likely it is complete; it is asked after a short silence, again
while the silence lasts, and a longer silence ends the turn whatever it says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import enum
import importlib.metadata
import logging
from pathlib import Path
from typing import Any

import numpy as np

_LOGGER = logging.getLogger(__name__)

RATE = 16000
WIDTH = 2
WINDOW = 512  # samples Silero VAD scores at a time (32 ms)
WINDOW_SECONDS = WINDOW / RATE
MODEL_SECONDS = 8  # Smart Turn hears the last 8 s (zero-padded in front when shorter)
MODEL_DIST = "pipecat-ai"
MODEL_GLOB = "smart-turn-v3"


@dataclass(frozen=True, slots=True)
class Tuning:
    """How long to wait for what (seconds) and how sure to be."""

    speculate_after: float = 0.03
    """Silence after which what was said so far is transcribed ahead (one VAD window: a
    transcription started at a pause that is not the end is dropped when speech goes on)."""
    ask_after: float = 0.2
    """Silence after which Smart Turn is first asked whether the turn is complete."""
    max_silence: float = 1.4
    """Silence that ends a started turn whatever Smart Turn says (longer than a thinking pause)."""
    min_speech: float = 0.15
    """Speech needed before a turn can end (a cough or a click does not start one)."""
    speech_threshold: float = 0.5
    """Silero probability above which a 32 ms window is speech."""
    complete_threshold: float = 0.6
    """Smart Turn probability above which the turn is complete. Above pipecat's 0.5: joe's
    "what is the name of... my dog?" scores 0.48-0.52 in its pause, finished questions 0.9 and
    more; a question cut in two is worse than one that waits for max_silence."""
    min_logprob: float = -0.7
    """Whisper's mean log-probability per token below which a transcript is too unsure to end a
    turn on before max_silence (Whisper in moxie-turn's process only). Heard well, joe's and
    espeak-ng's questions scored -0.05 to -0.57 here; what Whisper base made of espeak-ng's
    Spanish cut in its pause ("¡Como se llama mí!" for "¿Cómo se llama mi...") -0.9."""
    no_speech_timeout: float = 8.0
    """Nobody speaks for this long after the stream starts: the turn ends empty."""
    max_turn: float = 28.0
    """A turn longer than this ends (Whisper hears 30 s at most)."""

    def __post_init__(self) -> None:
        """Refuse tunings that cannot work."""
        positive = {
            "ask_after": self.ask_after,
            "max_silence": self.max_silence,
            "no_speech_timeout": self.no_speech_timeout,
            "max_turn": self.max_turn,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if not self.speculate_after <= self.ask_after <= self.max_silence:
            raise ValueError("speculate_after <= ask_after <= max_silence is needed")


class Verdict(enum.Enum):
    """What a piece of audio means for the turn."""

    LISTEN = "listen"
    """Keep listening."""
    SPECULATE = "speculate"
    """A pause began: transcribe what was said so far, ahead."""
    COMPLETE = "complete"
    """Smart Turn says the words are done."""
    SILENCE = "silence"
    """The pause is longer than any thinking pause."""
    NO_SPEECH = "no-speech"
    """Nobody spoke."""
    TOO_LONG = "too-long"
    """The turn reached its longest."""


def find_model(path: str | None) -> Path | None:
    """Find the Smart Turn ONNX file: path if given ("none": no model), else the one in pipecat-ai.

    pipecat-ai's files are listed from its installed metadata; pipecat itself is never imported
    (it pulls in much that a turn detector does not need).
    """
    if path:
        return None if path.lower() == "none" else Path(path)
    try:
        files = importlib.metadata.files(MODEL_DIST) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = sorted(
        Path(str(file.locate()))
        for file in files
        if file.name.startswith(MODEL_GLOB) and file.name.endswith(".onnx")
    )
    return found[-1] if found else None


class SmartTurn:
    """Smart Turn v3 on onnxruntime: probability that the last 8 s end a complete turn."""

    def __init__(self, path: Path) -> None:
        """Load the model (one CPU thread: it runs beside Whisper)."""
        from faster_whisper.feature_extractor import FeatureExtractor  # noqa: PLC0415
        import onnxruntime  # noqa: PLC0415 - only when there is a model

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.path = path
        self._session = onnxruntime.InferenceSession(str(path), sess_options=options)
        self._input = self._session.get_inputs()[0].name
        # Whisper's own log-mel features (80 bands, 10 ms hop) over 8 s.
        self._features = FeatureExtractor(feature_size=80, chunk_length=MODEL_SECONDS)
        self._frames = MODEL_SECONDS * RATE // 160

    def probability(self, pcm16: bytes) -> float:
        """How likely the audio (16 kHz 16-bit mono, the turn so far) ends a complete turn."""
        samples = np.frombuffer(pcm16, dtype="<i2")[-MODEL_SECONDS * RATE :].astype(np.float32)
        audio = np.zeros(MODEL_SECONDS * RATE, dtype=np.float32)
        audio[audio.size - samples.size :] = samples / 32768.0
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
        features = self._features(audio, padding=0)[:, : self._frames].astype(np.float32)
        outputs: Any = self._session.run(None, {self._input: features[np.newaxis]})
        return float(outputs[0][0][0])


class Ears:
    """One turn's audio, its speech and silences, and when to ask or end.

    `hear` takes 16 kHz 16-bit mono audio as it comes and answers what it means; `ask` is
    called by the owner with Smart Turn's answer (which may run in a thread).
    """

    def __init__(self, tuning: Tuning, vad: Callable[[bytes], float]) -> None:
        """Start a turn with no audio; vad scores one 512-sample window."""
        self.tuning = tuning
        self._vad = vad
        self.audio = bytearray()
        self._scored = 0  # bytes of audio the VAD has scored
        self.speech_seconds = 0.0
        self.last_speech_end = 0  # byte offset where the last speech window ended
        self.silence = 0.0  # seconds since the last speech window (once speech started)
        self._speculated_at: int | None = None  # last_speech_end when last speculated
        self._asked_at: int | None = None  # last_speech_end when last asked
        self.asked = 0

    @property
    def seconds(self) -> float:
        """Audio heard, in seconds."""
        return len(self.audio) / (RATE * WIDTH)

    @property
    def started(self) -> bool:
        """Whether enough speech was heard for a turn."""
        return self.speech_seconds >= self.tuning.min_speech

    @property
    def spoken(self) -> bytes:
        """The audio so far (what is transcribed)."""
        return bytes(self.audio)

    def hear(self, pcm16: bytes) -> Verdict:
        """Take audio; what it means for the turn (SPECULATE at most once a pause)."""
        self.audio += pcm16
        tuning = self.tuning
        while self._scored + WINDOW * WIDTH <= len(self.audio):
            window = bytes(self.audio[self._scored : self._scored + WINDOW * WIDTH])
            self._scored += WINDOW * WIDTH
            if self._vad(window) > tuning.speech_threshold:
                self.speech_seconds += WINDOW_SECONDS
                self.last_speech_end = self._scored
                self.silence = 0.0
            elif self.started:
                self.silence += WINDOW_SECONDS
        if self.seconds >= tuning.max_turn:
            return Verdict.TOO_LONG
        if not self.started:
            return Verdict.NO_SPEECH if self.seconds >= tuning.no_speech_timeout else Verdict.LISTEN
        if self.silence >= tuning.max_silence:
            return Verdict.SILENCE
        if self.silence >= tuning.speculate_after and self._speculated_at != self.last_speech_end:
            self._speculated_at = self.last_speech_end
            return Verdict.SPECULATE
        return Verdict.LISTEN

    def time_to_ask(self) -> bool:
        """Whether Smart Turn should be asked now: once a pause, after ask_after of it.

        Once only: the longer the silence, the surer the model gets whatever was said, so asking
        again would only be a shorter timeout; max_silence is the timeout.
        """
        if not self.started or self.silence < self.tuning.ask_after:
            return False
        if self._asked_at == self.last_speech_end:
            return False
        self._asked_at = self.last_speech_end
        self.asked += 1
        return True

    def complete(self, probability: float) -> bool:
        """Whether Smart Turn's probability says the words are done."""
        return probability > self.tuning.complete_threshold

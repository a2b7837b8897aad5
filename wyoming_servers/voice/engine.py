"""Piper voices loaded once, synthesized one piece at a time in a worker thread, abortable."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
import json
import logging
from pathlib import Path
import threading
import time

import numpy as np
import onnxruntime
from piper import PiperVoice
from piper.config import PiperConfig

_LOGGER = logging.getLogger(__name__)

MAX_WAV_VALUE = 32767.0
WARM_UP_TEXT = "Hello, Moxie is ready."
# Phoneme ids (about 120 characters) past which a request's memory arena is given back after it,
# once the server has been idle for RELEASE_DELAY seconds (a request right after is not slowed).
RELEASE_IDS = 250
RELEASE_DELAY = 0.5


class VoiceNotFoundError(Exception):
    """No voice of that name is loaded."""


@dataclass(frozen=True, slots=True)
class Tuning:
    """How the ONNX runtime runs: speed against memory."""

    threads: int = 0
    """Intra-op threads (0: onnxruntime's default, one per core)."""

    memory: str = "shrink"
    """`shrink`: onnxruntime's CPU memory arena, given back after a request with a long piece;
    `keep`: the arena stays at its peak size for good; `no-arena`: plain allocations."""

    length_scale: float | None = None
    noise_scale: float | None = None
    noise_w_scale: float | None = None

    def session_options(self) -> onnxruntime.SessionOptions:
        """Session options for this tuning."""
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = self.memory != "no-arena"
        # Memory patterns pre-plan buffers per input shape, and every sentence has a new shape.
        options.enable_mem_pattern = False
        return options


@dataclass
class Voice:
    """A loaded Piper voice and what the server's info says about it."""

    name: str
    piper: PiperVoice
    language: str
    description: str
    speakers: list[str]
    grown: int = 0
    """The longest input (phoneme ids) since the memory arena was last given back."""

    @property
    def sample_rate(self) -> int:
        """Sample rate of the voice."""
        return int(self.piper.config.sample_rate)


def find_voices(data_dirs: list[Path]) -> dict[str, tuple[Path, Path]]:
    """Voice name -> (model, config) for every `<name>.onnx` with its `.onnx.json`."""
    found: dict[str, tuple[Path, Path]] = {}
    for data_dir in data_dirs:
        for model in sorted(data_dir.glob("*.onnx")):
            config = model.with_name(model.name + ".json")
            if config.is_file():
                found.setdefault(model.stem, (model, config))
    return found


def load_voice(name: str, model: Path, config_path: Path, tuning: Tuning) -> Voice:
    """Load one voice with the tuning's session options."""
    config_dict = json.loads(config_path.read_text(encoding="utf-8"))
    config = PiperConfig.from_dict(config_dict)
    session = onnxruntime.InferenceSession(
        str(model), sess_options=tuning.session_options(), providers=["CPUExecutionProvider"]
    )
    language = (
        config_dict.get("language", {}).get("code")
        or config_dict.get("espeak", {}).get("voice")
        or name.split("-", maxsplit=1)[0]
    )
    dataset = config_dict.get("dataset", name)
    quality = config_dict.get("audio", {}).get("quality")
    return Voice(
        name=name,
        piper=PiperVoice(session=session, config=config),
        language=str(language),
        description=f"{dataset} ({quality})" if quality else str(dataset),
        speakers=sorted(config.speaker_id_map or {}),
    )


class Aborted(Exception):  # noqa: N818 (what happened, not a failure)
    """The synthesis was abandoned (client gone)."""


@dataclass
class Abort:
    """Abandon a synthesis: between sentences and inside the ONNX run itself."""

    _event: threading.Event = field(default_factory=threading.Event)
    _runs: set[onnxruntime.RunOptions] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def is_set(self) -> bool:
        """Whether the synthesis was abandoned."""
        return self._event.is_set()

    def set(self) -> None:
        """Abandon now; a running inference stops at its next operator."""
        with self._lock:
            self._event.set()
            for run in self._runs:
                run.terminate = True

    def run_options(self) -> onnxruntime.RunOptions:
        """Options for one inference, terminated if the abort comes while it runs."""
        options = onnxruntime.RunOptions()
        with self._lock:
            if self._event.is_set():
                raise Aborted
            self._runs.add(options)
        return options

    def done(self, options: onnxruntime.RunOptions) -> None:
        """Forget a finished inference."""
        with self._lock:
            self._runs.discard(options)


@dataclass
class Stats:
    """Counts shown in debug logs and used by tests and the benchmark."""

    pieces: int = 0
    aborted: int = 0
    seconds_of_audio: float = 0.0
    busy: float = 0.0


class Engine:
    """The loaded voices and one worker thread: pieces are synthesized one at a time, in order."""

    def __init__(self, voices: dict[str, Voice], default_voice: str, tuning: Tuning) -> None:
        """Use already loaded voices."""
        if default_voice not in voices:
            raise VoiceNotFoundError(default_voice)
        self.voices = voices
        self.default_voice = default_voice
        self.tuning = tuning
        self.stats = Stats()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="moxie-tts")
        self._pending = 0
        self._last_use = 0.0

    def warm_up(self) -> None:
        """Run every voice once, in the worker thread, so the first request is as fast as any."""
        for voice in self.voices.values():
            render = partial(self.render, voice, WARM_UP_TEXT, None, Abort())
            self._executor.submit(render).result()
        self._executor.submit(self._release, force=True).result()
        self.stats = Stats()

    def close(self) -> None:
        """Stop the worker."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def pick(self, name: str | None, language: str | None) -> Voice:
        """Choose the voice named, else the first of the language, else the default."""
        if name:
            if name not in self.voices:
                raise VoiceNotFoundError(name)
            return self.voices[name]
        if language:
            wanted = language.lower().replace("-", "_")
            for candidate in (self.voices[self.default_voice], *self.voices.values()):
                code = candidate.language.lower().replace("-", "_")
                if code == wanted or code.split("_")[0] == wanted.split("_")[0]:
                    return candidate
        return self.voices[self.default_voice]

    async def synthesize(self, voice: Voice, text: str, speaker: str | None, abort: Abort) -> bytes:
        """PCM (16-bit mono) for one piece of text; raises Aborted once abandoned."""
        if abort.is_set:
            raise Aborted
        loop = asyncio.get_running_loop()
        self._pending += 1
        try:
            return await loop.run_in_executor(
                self._executor, self.render, voice, text, speaker, abort
            )
        finally:
            self._pending -= 1
            self._last_use = time.monotonic()

    def request_done(self) -> None:
        """Give a grown memory arena back after a request, once the server is idle."""
        if self.tuning.memory == "shrink":
            asyncio.get_running_loop().call_later(RELEASE_DELAY, self._release_when_idle)

    def _release_when_idle(self) -> None:
        if self._pending or time.monotonic() - self._last_use < RELEASE_DELAY * 0.9:
            return
        if any(voice.grown > RELEASE_IDS for voice in self.voices.values()):
            self._executor.submit(self._release)

    def _release(self, *, force: bool = False) -> None:
        """In the worker: shrink the arena of every grown voice with a tiny inference."""
        for voice in self.voices.values():
            if self._pending and not force:
                return
            if voice.grown > RELEASE_IDS or force:
                options = onnxruntime.RunOptions()
                options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
                try:
                    self._infer(voice, [0, 0, 0], None, options)
                except Exception:
                    _LOGGER.exception("Could not shrink the memory arena of %s", voice.name)
                voice.grown = 0

    def render(self, voice: Voice, text: str, speaker: str | None, abort: Abort) -> bytes:
        """Synthesize in the calling thread, checking the abort between sentences."""
        started = time.monotonic()
        if abort.is_set:
            raise Aborted
        piper = voice.piper
        speaker_id = _speaker_id(voice, speaker)
        audio: list[bytes] = []
        for phonemes in piper.phonemize(text):
            if not phonemes:
                continue
            ids = piper.phonemes_to_ids(phonemes)
            options = abort.run_options()
            try:
                audio.append(_int16(self._infer(voice, ids, speaker_id, options)))
            except Exception as err:
                if abort.is_set:
                    raise Aborted from err
                raise
            finally:
                abort.done(options)
        pcm = b"".join(audio)
        self.stats.pieces += 1
        self.stats.seconds_of_audio += len(pcm) / 2 / voice.sample_rate
        self.stats.busy += time.monotonic() - started
        return pcm

    def _infer(
        self,
        voice: Voice,
        ids: list[int],
        speaker_id: int | None,
        options: onnxruntime.RunOptions,
    ) -> np.ndarray:
        """One ONNX inference, as piper-tts feeds it: float audio in [-1, 1]."""
        config = voice.piper.config
        feed = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array(
                [
                    _first(self.tuning.noise_scale, config.noise_scale),
                    _first(self.tuning.length_scale, config.length_scale),
                    _first(self.tuning.noise_w_scale, config.noise_w_scale),
                ],
                dtype=np.float32,
            ),
        }
        if config.num_speakers > 1:
            feed["sid"] = np.array(
                [config.default_speaker_id if speaker_id is None else speaker_id], dtype=np.int64
            )
        voice.grown = max(voice.grown, len(ids))
        result = voice.piper.session.run(None, feed, options)
        return np.asarray(result[0]).squeeze()


def _first(*values: float | None) -> float:
    return next(float(value) for value in values if value is not None)


def _speaker_id(voice: Voice, speaker: str | None) -> int | None:
    config = voice.piper.config
    if config.num_speakers <= 1:
        return None
    if speaker is None:
        return int(config.default_speaker_id)
    if speaker in (config.speaker_id_map or {}):
        return int(config.speaker_id_map[speaker])
    try:
        return int(speaker)
    except ValueError:
        _LOGGER.warning("No speaker %r in voice %s: using the default", speaker, voice.name)
        return int(config.default_speaker_id)


def _int16(audio: np.ndarray) -> bytes:
    """Normalize like piper (peak to full scale) and convert to 16-bit PCM."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-8:
        return np.zeros(audio.shape, dtype=np.int16).tobytes()
    scaled = np.clip(audio / peak, -1.0, 1.0) * MAX_WAV_VALUE
    return scaled.astype(np.int16).tobytes()

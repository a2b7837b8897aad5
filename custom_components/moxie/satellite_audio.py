"""Audio helpers of Moxie's satellite: the recent past of the microphone and speech detection.

Barge-in listens to the microphone while Moxie speaks: the first words of a person talking
over Moxie stop the speaker, and those words (kept in the pre-roll) start the question.
"""

from __future__ import annotations

from collections import deque

import audioop
from pymicro_vad import MicroVad

# 10 ms of 16 kHz, 16-bit mono audio: what microVAD (Assist's own VAD) takes at a time.
FRAME_BYTES = 320
FRAME_SECONDS = 0.01
# Speech probability above which a frame counts as speech (Assist's VoiceCommandSegmenter).
SPEECH_THRESHOLD = 0.5
# microVAD's verdict lags the audio a little; a frame this quiet (RMS of 16-bit samples) is
# never speech, so the tail of what was said before cannot pass for new speech.
MIN_SPEECH_RMS = 50
# Speech this long, without a pause longer than PAUSE, is a person talking.
SPEECH_SECONDS = 0.1
PAUSE_SECONDS = 0.1
# Audio kept from before the speech was noticed, so its first words reach speech-to-text.
PREROLL_SECONDS = 1.0


class PreRoll:
    """The last PREROLL_SECONDS of microphone audio."""

    def __init__(self, seconds: float = PREROLL_SECONDS) -> None:
        """Keep seconds of audio."""
        self._max = int(seconds * 16000 * 2)
        self._chunks: deque[bytes] = deque()
        self._size = 0

    def add(self, chunk: bytes) -> None:
        """Remember chunk, forgetting audio older than the limit."""
        self._chunks.append(chunk)
        self._size += len(chunk)
        while self._chunks and self._size - len(self._chunks[0]) >= self._max:
            self._size -= len(self._chunks.popleft())

    def take(self) -> list[bytes]:
        """Return the chunks kept (oldest first) and forget them."""
        chunks, self._chunks, self._size = list(self._chunks), deque(), 0
        return chunks


class SpeechStart:
    """Tells when a person starts talking: microVAD over 10 ms frames, with a short hangover."""

    def __init__(self) -> None:
        """Start with no speech heard."""
        self._vad = MicroVad()
        self._pending = b""
        self._speech = 0.0
        self._pause = 0.0

    def reset(self) -> None:
        """Forget the speech heard so far (microVAD stays warm: it needs 0.75 s to start)."""
        self._speech = self._pause = 0.0

    def process(self, chunk: bytes) -> bool:
        """Feed 16 kHz PCM; True as soon as speech lasted SPEECH_SECONDS."""
        audio = self._pending + chunk
        whole = len(audio) - len(audio) % FRAME_BYTES
        self._pending = audio[whole:]
        for start in range(0, whole, FRAME_BYTES):
            probability = self._vad.Process10ms(audio[start : start + FRAME_BYTES])
            if probability < 0:
                continue  # microVAD warms up on its first frames
            frame = audio[start : start + FRAME_BYTES]
            if probability > SPEECH_THRESHOLD and audioop.rms(frame, 2) >= MIN_SPEECH_RMS:
                self._speech += FRAME_SECONDS
                self._pause = 0.0
                if self._speech >= SPEECH_SECONDS:
                    return True
            else:
                self._pause += FRAME_SECONDS
                if self._pause > PAUSE_SECONDS:
                    self._speech = 0.0
        return False

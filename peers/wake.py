"""A Wyoming wake word service for tests: the real microWakeWord models (PyPI pymicro-wakeword).

It speaks the protocol Home Assistant's wyoming integration uses for wake word entities
(`describe` -> info with the models; `detect`, `audio-start`, `audio-chunk`... ->
`detection` or, at `audio-stop`, `not-detected`) and runs the built-in "okay nabu" model of
pymicro-wakeword on the audio. It runs in the test's event loop on a loopback port.
"""

from __future__ import annotations

from functools import partial

from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, WakeModel, WakeProgram
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.wake import Detect, Detection, NotDetected

from peers.mic import stop_server

ATTRIBUTION = Attribution(name="Open Home Foundation", url="https://github.com/OHF-Voice")
MODEL = Model.OKAY_NABU


class WyomingWake:
    """The wake word server on 127.0.0.1:port (okay nabu)."""

    def __init__(self, port: int) -> None:
        """Prepare the server."""
        self.host = "127.0.0.1"
        self.port = port
        self.detections = 0
        self._server: AsyncTcpServer | None = None

    def info(self) -> Info:
        """What `describe` answers."""
        return Info(
            wake=[
                WakeProgram(
                    name="microwakeword",
                    description="microWakeWord (tests)",
                    attribution=ATTRIBUTION,
                    installed=True,
                    version="2.5.0",
                    models=[
                        WakeModel(
                            name=MODEL.value,
                            description="Okay Nabu",
                            phrase="okay nabu",
                            attribution=ATTRIBUTION,
                            installed=True,
                            languages=["en"],
                            version="1",
                        )
                    ],
                )
            ]
        )

    async def start(self) -> None:
        """Listen."""
        self._server = AsyncTcpServer(self.host, self.port)
        await self._server.start(partial(_WakeHandler, self))

    async def stop(self) -> None:
        """Hang up on every client and stop listening."""
        server, self._server = self._server, None
        await stop_server(server)


class _WakeHandler(AsyncEventHandler):
    """One detection session per client."""

    def __init__(self, wake: WyomingWake, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.wake = wake
        self._model: MicroWakeWord | None = None
        self._features = MicroWakeWordFeatures()
        self._detected = False

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.wake.info().event())
        elif Detect.is_type(event.type) or AudioStart.is_type(event.type):
            if self._model is None:
                self._model = MicroWakeWord.from_builtin(MODEL)
        elif AudioChunk.is_type(event.type) and self._model is not None and not self._detected:
            chunk = AudioChunk.from_event(event)
            for features in self._features.process_streaming(chunk.audio):
                if self._model.process_streaming(features):
                    self._detected = True
                    self.wake.detections += 1
                    await self.write_event(
                        Detection(name=MODEL.value, timestamp=chunk.timestamp).event()
                    )
                    break
        elif AudioStop.is_type(event.type) and not self._detected:
            await self.write_event(NotDetected().event())
        return True

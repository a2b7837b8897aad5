"""moxie-file-mic: a Wyoming microphone (as wyoming-mic-external serves) that hears audio files.

Every client gets `audio-start` and then an endless real-time stream of `audio-chunk` events
(16 kHz mono 16-bit, 1024 samples each), like upstream wyoming-mic-external with arecord. What
the "microphone hears": the file given with `--wav` (once, when the first client connects), then
each file dropped into the folder given with `--watch` (once each, in name order; moved into
`<folder>/played/` once queued), silence otherwise. Files that are not already 16 kHz mono 16-bit
WAV are converted with ffmpeg. All clients hear the same sound at the same time, as with a real
microphone; nothing is consumed while no client is connected.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
import contextlib
from functools import partial
import logging
from pathlib import Path
import shutil
import subprocess
import time
from urllib.parse import urlparse
import wave

from wyoming.audio import AudioChunk, AudioStart
from wyoming.event import Event
from wyoming.info import Attribution, AudioFormat, Describe, Info, MicProgram
from wyoming.server import AsyncEventHandler, AsyncServer

_LOGGER = logging.getLogger("moxie_file_mic")

RATE, WIDTH, CHANNELS = 16000, 2, 1
SAMPLES_PER_CHUNK = 1024  # wyoming-mic-external's default
CHUNK_BYTES = SAMPLES_PER_CHUNK * WIDTH * CHANNELS
CHUNK_SECONDS = SAMPLES_PER_CHUNK / RATE
AUDIO_SUFFIXES = {".wav", ".mp3", ".ogg", ".flac", ".m4a", ".opus", ".webm"}
PLAYED = "played"


def read_pcm(path: Path) -> bytes:
    """Return path's audio as 16 kHz mono 16-bit PCM (ffmpeg converts what is not already so)."""
    try:
        with wave.open(str(path), "rb") as wav:
            if (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (
                RATE,
                WIDTH,
                CHANNELS,
            ):
                return wav.readframes(wav.getnframes())
    except wave.Error, EOFError:
        pass  # not a plain PCM WAV: ffmpeg decodes it
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ValueError(f"{path} is not 16 kHz mono 16-bit WAV and ffmpeg is not installed")
    result = subprocess.run(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "s16le",
            "-acodec",
            "pcm_s16le",
            "-ac",
            str(CHANNELS),
            "-ar",
            str(RATE),
            "-",
        ],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise ValueError(f"ffmpeg cannot read {path}: {result.stderr.decode(errors='replace')}")
    return result.stdout


class FileMic:
    """The microphone: sounds queued to be heard, the clients listening, one shared clock."""

    def __init__(self, wav: Path | None = None, watch: Path | None = None) -> None:
        """Hear wav once at the first connection, then each file dropped into watch."""
        self.pending_wav = wav
        self.watch = watch
        self.sounds: deque[tuple[str, bytes]] = deque()
        self.listeners: set[asyncio.Queue[bytes]] = set()
        self._seen_sizes: dict[Path, int] = {}

    def info(self) -> Info:
        """Return what `describe` answers."""
        return Info(
            mic=[
                MicProgram(
                    name="moxie-file-mic",
                    description="Audio files heard as a microphone (silence otherwise)",
                    attribution=Attribution(name="Moxie", url=""),
                    installed=True,
                    version="1.0",
                    mic_format=AudioFormat(rate=RATE, width=WIDTH, channels=CHANNELS),
                )
            ]
        )

    def queue_file(self, path: Path) -> None:
        """Hear path next (after what is queued)."""
        try:
            pcm = read_pcm(path)
        except (OSError, ValueError) as err:
            _LOGGER.error("Cannot play %s: %s", path, err)
            return
        self.sounds.append((path.name, pcm))
        _LOGGER.info("Queued %s (%.2f s)", path.name, len(pcm) / (RATE * WIDTH * CHANNELS))

    def scan(self) -> None:
        """Queue the files dropped into the watched folder once their size is stable."""
        if self.watch is None or not self.watch.is_dir():
            return
        sizes = {}
        for path in sorted(self.watch.iterdir()):
            if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES:
                sizes[path] = path.stat().st_size
        for path, size in sizes.items():
            if self._seen_sizes.get(path) != size:
                continue  # new or still being written: taken on the next scan
            played = self.watch / PLAYED
            played.mkdir(exist_ok=True)
            target = played / path.name
            path.replace(target)
            self.queue_file(target)
        self._seen_sizes = {p: s for p, s in sizes.items() if p.exists()}

    def next_chunk(self) -> bytes:
        """Return the next chunk: queued sound, padded with silence, or silence."""
        chunk = b""
        while self.sounds and len(chunk) < CHUNK_BYTES:
            name, pcm = self.sounds[0]
            take = CHUNK_BYTES - len(chunk)
            chunk += pcm[:take]
            if len(pcm) <= take:
                self.sounds.popleft()
                _LOGGER.info("Played %s", name)
            else:
                self.sounds[0] = (name, pcm[take:])
        return chunk + bytes(CHUNK_BYTES - len(chunk))

    async def run(self) -> None:
        """Run the clock: a chunk per chunk duration to every listener, while one listens."""
        started = time.monotonic()
        sent = 0
        next_scan = 0.0
        while True:
            now = time.monotonic()
            if now >= next_scan:
                await asyncio.to_thread(self.scan)
                next_scan = now + 0.5
            if not self.listeners:
                started, sent = time.monotonic(), 0
                await asyncio.sleep(CHUNK_SECONDS)
                continue
            if self.pending_wav is not None:
                wav, self.pending_wav = self.pending_wav, None
                await asyncio.to_thread(self.queue_file, wav)
            chunk = self.next_chunk()
            for listener in list(self.listeners):
                listener.put_nowait(chunk)
            sent += 1
            await asyncio.sleep(max(0.0, started + sent * CHUNK_SECONDS - time.monotonic()))


class MicHandler(AsyncEventHandler):
    """One client: answers describe, streams what the microphone hears from its connection."""

    def __init__(self, mic: FileMic, *args: object) -> None:
        """Start streaming to the client."""
        super().__init__(*args)  # type: ignore[arg-type]
        self.mic = mic
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._stream = asyncio.create_task(self._run_stream(), name="file mic stream")

    async def handle_event(self, event: Event) -> bool:
        """Answer describe; ignore the rest."""
        if Describe.is_type(event.type):
            await self.write_event(self.mic.info().event())
        return True

    async def disconnect(self) -> None:
        """Stop streaming."""
        self.mic.listeners.discard(self.queue)
        self._stream.cancel()
        await asyncio.gather(self._stream, return_exceptions=True)

    async def _run_stream(self) -> None:
        fmt = {"rate": RATE, "width": WIDTH, "channels": CHANNELS}
        try:
            await self.write_event(AudioStart(**fmt).event())
            self.mic.listeners.add(self.queue)
            while True:
                chunk = await self.queue.get()
                await self.write_event(AudioChunk(audio=chunk, **fmt).event())
        except ConnectionError:
            return
        finally:
            self.mic.listeners.discard(self.queue)


def build_parser() -> argparse.ArgumentParser:
    """Return the command line parser."""
    parser = argparse.ArgumentParser(prog="moxie-file-mic", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--uri", default="tcp://0.0.0.0:10600", help="Wyoming URI to serve")
    add("--wav", type=Path, help="audio file heard once, when the first client connects")
    add("--watch", type=Path, help="folder whose new audio files are heard once each")
    add("--debug", action="store_true", help="DEBUG logs")
    return parser


async def serve(args: argparse.Namespace) -> None:
    """Serve the microphone until cancelled."""
    mic = FileMic(args.wav, args.watch)
    if args.watch is not None:
        args.watch.mkdir(parents=True, exist_ok=True)
    server = AsyncServer.from_uri(args.uri)
    clock = asyncio.create_task(mic.run(), name="file mic clock")
    uri = urlparse(args.uri)
    # Listening before saying so: whoever waits for this line can connect at once.
    await server.start(partial(MicHandler, mic))
    _LOGGER.info(
        "File microphone on %s (16 kHz mono 16-bit); hears %s%s, silence otherwise",
        args.uri if uri.scheme != "tcp" else f"{uri.hostname}:{uri.port}",
        f"{args.wav} once" if args.wav else "nothing given",
        f", and each audio file dropped into {args.watch}" if args.watch else "",
    )
    try:
        await asyncio.Event().wait()  # serve until cancelled (Ctrl-C, SIGTERM)
    finally:
        clock.cancel()
        await server.stop()


def main() -> None:
    """moxie-file-mic entry point."""
    args = build_parser().parse_args()
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format=logging.BASIC_FORMAT
    )
    if args.wav is not None and not args.wav.is_file():
        raise SystemExit(f"moxie-file-mic: no such file: {args.wav}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()

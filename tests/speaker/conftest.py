"""Fixtures for the speaker: the tiny Piper voice, wyoming-piper (via moxie-piper), the speaker."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from peers.broker import Mosquitto
from peers.speaker import SpeakerProcess
from peers.tiny_voice import write_voice
from peers.voices import LaunchedServer


@pytest.fixture(scope="session")
def voice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory holding the generated tiny voice (`--data-dir` of wyoming-piper)."""
    directory = tmp_path_factory.mktemp("voice")
    write_voice(directory)
    return directory


@pytest.fixture(scope="session")
def piper(voice_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedServer]:
    """One real wyoming-piper (streaming) shared by the tests that do not kill it."""
    server = LaunchedServer.tiny_piper(voice_dir, tmp_path_factory.mktemp("piper"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_piper(voice_dir: Path, tmp_path: Path) -> Iterator[LaunchedServer]:
    """A wyoming-piper of this test only (it may be killed and restarted)."""
    workdir = tmp_path / "own_piper"
    workdir.mkdir()
    server = LaunchedServer.tiny_piper(voice_dir, workdir)
    server.start()
    yield server
    server.stop()


type SpeakerFactory = Callable[..., SpeakerProcess]


@pytest.fixture
def start_speaker(
    mosquitto: Mosquitto, piper: LaunchedServer, tmp_path: Path
) -> Iterator[SpeakerFactory]:
    """Start speaker processes on the test's broker; all are stopped after the test."""
    started: list[SpeakerProcess] = []

    def start(args: Sequence[str] = (), tts_uri: str | None = None) -> SpeakerProcess:
        workdir = tmp_path / f"speaker{len(started)}"
        workdir.mkdir()
        speaker = SpeakerProcess(workdir, mosquitto, tts_uri or piper.uri, args)
        started.append(speaker)
        speaker.start()
        return speaker

    yield start
    for speaker in started:
        speaker.stop()

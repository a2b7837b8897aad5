"""moxie-turn over Wyoming, as Home Assistant's speech-to-text uses it, with real Whisper tiny.en.

Questions are joe's real voice streamed in real time, followed by silence, exactly as Home
Assistant streams a satellite's microphone: `transcribe`, `audio-start`, chunks, and
`audio-stop` only if no transcript came first. moxie-turn says in its info that it needs no
external VAD, so Home Assistant lets it end the turn.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from peers.process import outside_free_port
from peers.questions import PAUSED, PLAIN, PausedQuestion, ask_in_real_time, paused_pcm16
from peers.voices import LaunchedServer, describe, joe_pcm16, transcribe, word_errors

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(scope="module")
def turn(
    whisper_server: LaunchedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LaunchedServer]:
    """moxie-turn with Smart Turn (from pipecat-ai) in front of Whisper tiny.en."""
    server = LaunchedServer.turn(tmp_path_factory.mktemp("turn"), whisper_server.uri)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain_turn(
    whisper_server: LaunchedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LaunchedServer]:
    """moxie-turn without the model: it must change nothing."""
    server = LaunchedServer.turn(
        tmp_path_factory.mktemp("plain_turn"), whisper_server.uri, "--model", "none"
    )
    server.start()
    yield server
    server.stop()


async def test_info_says_it_ends_turns_itself(
    turn: LaunchedServer, whisper_server: LaunchedServer
) -> None:
    (asr,) = (await describe(turn.uri)).asr
    (whisper,) = (await describe(whisper_server.uri)).asr
    assert asr.name == "moxie-turn"
    assert asr.requires_external_vad is False
    assert asr.models == whisper.models  # Whisper's languages


@pytest.mark.parametrize("question", PAUSED, ids=lambda q: q.text)
async def test_a_paused_question_is_one_question(
    turn: LaunchedServer, question: PausedQuestion
) -> None:
    heard = await ask_in_real_time(turn.uri, paused_pcm16(question), "en")
    assert heard.before_audio_stop, "moxie-turn ended the turn itself"
    assert heard.text is not None
    assert word_errors(heard.text, question.text) <= 1, heard.text
    # The turn ended after the question, not in its pause (the words after it were heard).
    assert question.after.split()[0].strip("?").lower() in heard.text.lower()


@pytest.mark.parametrize("text", PLAIN)
async def test_a_question_ends_its_turn_without_audio_stop(turn: LaunchedServer, text: str) -> None:
    heard = await ask_in_real_time(turn.uri, joe_pcm16(text), "en")
    assert heard.before_audio_stop
    assert heard.text is not None
    assert word_errors(heard.text, text) <= 1, heard.text


async def test_nobody_speaking_ends_the_turn_empty(
    whisper_server: LaunchedServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = LaunchedServer.turn(
        tmp_path_factory.mktemp("quiet_turn"), whisper_server.uri, "--no-speech-timeout", "1"
    )
    server.start()
    try:
        heard = await ask_in_real_time(server.uri, b"", "en", tail=3.0)
    finally:
        server.stop()
    assert heard.before_audio_stop
    assert heard.text == ""
    assert heard.after_speech < 2.5


async def test_without_the_model_home_assistant_ends_the_turn(
    plain_turn: LaunchedServer, whisper_server: LaunchedServer
) -> None:
    (asr,) = (await describe(plain_turn.uri)).asr
    assert asr.requires_external_vad is True
    question = PAUSED[0]
    pcm = paused_pcm16(question)
    heard = await ask_in_real_time(plain_turn.uri, pcm, "en", tail=1.0)
    assert not heard.before_audio_stop, "only audio-stop ends the turn, as with Whisper alone"
    assert heard.text == await transcribe(whisper_server.uri, pcm, "en")


async def test_an_unreachable_whisper_is_a_clear_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    nowhere = f"tcp://127.0.0.1:{outside_free_port()}"
    server = LaunchedServer.turn(tmp_path_factory.mktemp("lost_turn"), nowhere)
    server.start()
    try:
        heard = await ask_in_real_time(server.uri, joe_pcm16(PLAIN[0]), "en")
        assert heard.error == "stt-unreachable"
        assert heard.text is None
        (asr,) = (await describe(server.uri)).asr  # still serving
        assert asr.name == "moxie-turn"
    finally:
        server.stop()
    assert f"cannot reach the Whisper server at {nowhere}" in server.log_text()

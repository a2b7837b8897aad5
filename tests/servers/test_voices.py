"""The shared real voices work: joe's speech, heard by the Whisper server, said by joe_piper."""

from __future__ import annotations

import io
import wave

from peers.voices import (
    SENTENCE,
    LaunchedServer,
    joe_pcm16,
    joe_wav,
    same_words_but_name,
    synthesize,
    to_pcm16,
    transcribe,
    words,
)


async def test_whisper_hears_joe(whisper_server: LaunchedServer, socket_enabled: None) -> None:
    """Joe's sentence over Wyoming comes back as the same words (the name aside)."""
    heard = await transcribe(whisper_server.uri, joe_pcm16(SENTENCE))

    assert same_words_but_name(heard), heard
    assert "kitchen" in words(heard)


def test_joe_wav_is_what_stt_wants() -> None:
    """joe_wav is 16 kHz, 16-bit mono and about as long as the sentence takes to say."""
    with wave.open(io.BytesIO(joe_wav(SENTENCE))) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (16000, 2, 1)
        seconds = wav.getnframes() / wav.getframerate()
    assert 2.0 < seconds < 10.0


async def test_joe_piper_speaks_what_whisper_hears(
    joe_piper: LaunchedServer, whisper_server: LaunchedServer, socket_enabled: None
) -> None:
    """joe_piper's audio for the sentence, resampled as HA would, is heard word for word."""
    pcm, rate, width, channels = await synthesize(joe_piper.uri, SENTENCE)
    assert (await synthesize(joe_piper.uri, SENTENCE))[0] == pcm  # no random noise

    assert (rate, width, channels) == (22050, 2, 1)
    assert len(pcm) > rate * width * 2  # more than two seconds of speech
    heard = await transcribe(whisper_server.uri, to_pcm16(pcm, rate, width, channels))
    assert same_words_but_name(heard), heard

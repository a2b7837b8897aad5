"""moxie-speaker speaking through moxie-tts: mirror text in, WAV files out, a stop drops work."""

from __future__ import annotations

import json
from pathlib import Path
import re

from peers.broker import Mosquitto
from peers.moxie_tts import MoxieTts
from peers.mqtt import MqttProbe
from peers.speaker import (
    SpeakerProcess,
    direct_synthesize,
    wait_audio,
    wait_connected,
    wait_history,
    wav_pcm,
)
from tests.voice.conftest import seconds

TEXT = "moxie/tts/text"
GREETING = "Good morning, I hope you slept well. The stars were bright last night!"
STORY = " ".join(
    f"Part {n}: the little robot counted the stars again and found one more than yesterday."
    for n in range(1, 21)
)


def _speech(text: str, message_id: str) -> str:
    return json.dumps({"text": text, "id": message_id, "source": "test", "language": "en"})


async def test_speaker_speaks_through_moxie_tts(
    mosquitto: Mosquitto, moxie_tts: MoxieTts, tmp_path: Path
) -> None:
    """What the speaker plays (streamed, clause first) is as long as moxie-tts's whole text."""
    speaker = SpeakerProcess(tmp_path, mosquitto, moxie_tts.uri, ["--no-pacing"])
    speaker.start()
    try:
        await wait_connected(speaker)
        async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
            await peer.publish(TEXT, _speech(GREETING, "hello"))
            entries = await wait_history(speaker, lambda h: len(h) == 1)
    finally:
        speaker.stop()

    assert entries[0]["outcome"] == "played"
    (wav,) = speaker.wavs()
    played = seconds(wav_pcm(wav))
    whole = seconds(await direct_synthesize(moxie_tts.uri, GREETING))
    assert played > 2.0
    assert abs(played - whole) < 0.05 * whole


async def test_stop_frees_moxie_tts_for_what_comes_next(
    mosquitto: Mosquitto, moxie_tts: MoxieTts, tmp_path: Path
) -> None:
    """A stop mid-story: moxie-tts abandons the rest, and the next utterance is played whole."""
    before = moxie_tts.log_text().count("synthesis abandoned")
    speaker = SpeakerProcess(tmp_path, mosquitto, moxie_tts.uri)
    speaker.start()
    try:
        await wait_connected(speaker)
        async with MqttProbe(mosquitto.host, mosquitto.port, "moxie/#") as peer:
            await peer.publish(TEXT, _speech(STORY, "story"))
            await wait_audio(speaker, "story")
            await peer.publish("moxie/tts/stop", json.dumps({"reason": "test"}))
            await wait_history(speaker, lambda h: len(h) == 1)
            await peer.publish(TEXT, _speech(GREETING, "after"))
            entries = await wait_history(speaker, lambda h: len(h) == 2)
    finally:
        speaker.stop()

    assert [(e["id"], e["outcome"]) for e in entries] == [("story", "stopped"), ("after", "played")]
    log = moxie_tts.log_text()
    abandoned = [int(n) for n in re.findall(r"synthesis abandoned after (\d+) pieces", log)]
    assert len(abandoned) == before + 1, log[-3000:]
    assert abandoned[-1] < 21  # the story is 21 pieces: "Part 1:", then 20 sentences
    after = speaker.wavs()[-1]
    expected = seconds(await direct_synthesize(moxie_tts.uri, GREETING))
    assert abs(seconds(wav_pcm(after)) - expected) < 0.05 * expected

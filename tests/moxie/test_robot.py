"""Robot Moxie: a simulated robot served by Moxie over the robot's own broker.

The robot is peers.robot_sim (written from OpenMoxie's protocol); real Home Assistant, real
Mosquitto (house and robot), real Whisper tiny.en hearing joe's voice, the loopback Ollama.
"""

# ruff: noqa: F811 (the fixtures imported from the helpers are test parameters)
from __future__ import annotations

import asyncio
from pathlib import Path

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from peers.broker import Mosquitto
from peers.mqtt import MqttProbe
from peers.ollama_server import ChatReply, OllamaServer
from peers.robot_sim import REQUEST_NAME, RobotSim, encode_stt_request
from peers.voices import SENTENCE, joe_pcm16, same_words_but_name
from tests.moxie.conftest import wait_state
from tests.moxie.pipeline_helpers import (  # noqa: F401
    english_moxie,
    pipeline_settings,
    plain_speaker_heard,
    wyoming,
)
from tests.moxie.robot_helpers import (  # noqa: F401
    ROBOT,
    assert_valid_markup,
    robot,
    robot_broker,
    robot_tls,
    serve_robot,
)
from tests.moxie.test_conversation_log import Subscription

ANSWER = "The kitchen light is on. Once upon a time, the stars sang."
QUIET = b"\x00\x00" * 16000  # one second of silence after the question


@pytest.mark.parametrize("pipeline_settings", [{}])
@pytest.mark.parametrize("robot_tls", [False, True], ids=["plain", "tls"])
async def test_robot_turn_through_moxie(
    hass: HomeAssistant,
    *,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    robot_broker: Mosquitto,
    robot: RobotSim,
) -> None:
    """The robot's question is heard by Moxie's pipeline and answered by Moxie's agent."""
    await serve_robot(hass, english_moxie, robot_broker, robot)
    ollama_server.replies.append(ChatReply(content=ANSWER))

    utterance = await robot.say_to_robot(joe_pcm16(SENTENCE) + QUIET)
    heard = await robot.stt_response(utterance)
    assert heard.type == 1  # FINAL
    assert heard.uuid == utterance
    assert heard.error_code == 0
    assert same_words_but_name(heard.speech), heard.speech
    assert heard.language == "en"

    reply = await robot.chat(heard.speech, event_id="evt-42")
    assert reply["command"] == "remote_chat"
    assert reply["event_id"] == "evt-42"
    assert reply["backend"] == "router"
    assert reply["output"]["text"] == ANSWER
    assert_valid_markup(reply["output"]["markup"], ANSWER)
    assert reply["response_actions"] == [{"output_type": "GLOBAL_RESPONSE"}]
    # Moxie's agent was asked what the robot heard.
    asked = ollama_server.chat_requests[-1]["messages"][-1]
    assert (asked["role"], asked["content"]) == ("user", heard.speech)

    # The answer is on the Speech event (the card), said by the robot, not by Moxie's speaker.
    said = await mqtt_probe.wait_for(
        "moxie/speech", where=lambda m: m.json()["source"] == "assistant"
    )
    assert " ".join(m.json()["text"] for m in said) == ANSWER
    assert all(m.json()["speak"] is False for m in said)
    assert all(m.json()["satellite"] == ROBOT for m in said)
    assert await plain_speaker_heard(mqtt_probe) == []

    # What the robot then reports it said is that answer: not a second Speech event.
    await robot.send_chat(ANSWER, command="notify", event_id="evt-43")
    await robot.send_chat("Hi there, I am Moxie.", command="notify", event_id="evt-44")
    robot_said = await mqtt_probe.wait_for(
        "moxie/speech", where=lambda m: m.json()["text"] == "Hi there, I am Moxie."
    )
    assert robot_said[0].json()["speak"] is False
    assert robot_said[0].json()["satellite"] == ROBOT
    from_robot = [m.json()["text"] for m in mqtt_probe.messages["moxie/speech"]]
    assert from_robot.count("Hi there, I am Moxie.") == 1
    assert ANSWER not in from_robot  # (the answer's Speech events are its two pieces)
    assert await plain_speaker_heard(mqtt_probe) == []


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_announce_and_stop_reach_the_robot(
    hass: HomeAssistant,
    *,
    english_moxie: MockConfigEntry,
    mqtt_probe: MqttProbe,
    robot_broker: Mosquitto,
    robot: RobotSim,
) -> None:
    """Announce -> telehealth PLAY_OUTPUT; moxie.stop -> telehealth INTERRUPT; speaker silent."""
    await serve_robot(hass, english_moxie, robot_broker, robot)

    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"message": "Dinner is ready <exit>"},
        target={"entity_id": ROBOT},
        blocking=True,
    )
    await robot.wait(lambda: len(robot.telehealth()) >= 1)
    play = robot.telehealth()[0]
    assert play["command"] == "telehealth"
    assert play["message"]["action"] == "PLAY_OUTPUT"
    assert play["message"]["output"]["text"] == "Dinner is ready"
    assert_valid_markup(play["message"]["output"]["markup"], "Dinner is ready")

    await hass.services.async_call("moxie", "stop", {}, blocking=True)
    await robot.wait(lambda: len(robot.telehealth()) >= 2)
    assert robot.telehealth()[1] == {"command": "telehealth", "message": {"action": "INTERRUPT"}}

    event = await mqtt_probe.wait_for(
        "moxie/speech", where=lambda m: m.json()["source"] == "announcement"
    )
    assert event[0].json()["text"] == "Dinner is ready"
    assert event[0].json()["speak"] is False
    assert await plain_speaker_heard(mqtt_probe) == []


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_malformed_frames_are_counted_not_fatal(
    hass: HomeAssistant,
    *,
    hass_client: ClientSessionGenerator,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
    robot_broker: Mosquitto,
    robot: RobotSim,
) -> None:
    """Broken frames and JSON are rejected and counted; the robot is still answered after."""
    await serve_robot(hass, english_moxie, robot_broker, robot)
    await robot.publish_raw("zmq", b"no colon here")
    await robot.publish_raw("zmq", b"embodied.Unknown:\x08\x01")
    await robot.publish_raw("zmq", REQUEST_NAME.encode() + b":\x1a\xff\xff\xff\x0f")  # truncated
    await robot.publish_raw("zmq", REQUEST_NAME.encode() + b":" + b"\x00" * (300 * 1024))
    await robot.publish_raw("zmq", REQUEST_NAME.encode() + b":" + encode_stt_request(1, 1, b"", ""))
    await robot.publish_raw("remote-chat", b"{not json")
    await robot.publish_raw("remote-chat", b'{"command": "continue", "speech": "hi"}')
    ollama_server.replies.append(ChatReply(content="Still here."))
    reply = await robot.chat("Are you there?", event_id="evt-after")
    assert reply["output"]["text"] == "Still here."

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, english_moxie)
    robot_diagnostics = diagnostics["robot"]
    assert robot_diagnostics["connected"] is True
    assert robot_diagnostics["handled"]["chat"] == 1
    assert robot_diagnostics["rejected"] == {
        "no_name": 1,
        "unknown_proto": 1,
        "truncated": 1,
        "too_large": 1,
        "no_uuid": 1,
        "invalid_json": 1,
        "no_event_id": 1,
    }
    assert hass.states.get(ROBOT).state != "unavailable"


async def test_no_robot_no_robot_satellite(
    hass: HomeAssistant, moxie_entry: MockConfigEntry
) -> None:
    """Without Robot Moxie in the options nothing of the robot exists."""
    assert hass.states.get(ROBOT) is None
    assert hass.states.get("assist_satellite.moxie") is not None
    assert moxie_entry.state is ConfigEntryState.LOADED
    assert moxie_entry.runtime_data.robot is None


def test_sim_knows_nothing_of_the_integration() -> None:
    """The simulator is written from the protocol: it imports nothing of Moxie's code."""
    source = (Path(__file__).parents[2] / "peers" / "robot_sim.py").read_text(encoding="utf-8")
    assert "from custom_components" not in source
    assert "import custom_components" not in source


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_robot_broker_restart(
    hass: HomeAssistant,
    *,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
    robot_broker: Mosquitto,
    robot: RobotSim,
) -> None:
    """OpenMoxie's broker restarts: Moxie reconnects, asks the robot again, and answers it."""
    await serve_robot(hass, english_moxie, robot_broker, robot)
    link = english_moxie.runtime_data.robot
    assert link is not None
    await robot.stop()
    robot_broker.restart()
    # The robot comes back (its client reconnects, a new connection with the same id).
    back = RobotSim(robot_broker.host, robot_broker.port, robot.device_id)
    await back.start()
    try:
        await back.wait_microphone_subscribed()
        await wait_state(hass, ROBOT, lambda s: s.state != "unavailable", timeout=60)
        assert link.connected
        ollama_server.replies.append(ChatReply(content="I am back."))
        reply = await back.chat("Are you back?", event_id="evt-back")
        assert reply["output"]["text"] == "I am back."
    finally:
        await back.stop()


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_status_follows_the_robot(
    hass: HomeAssistant,
    *,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    robot_broker: Mosquitto,
    robot: RobotSim,
) -> None:
    """Moxie's Status: listening while the robot streams, thinking, then idle again."""
    await serve_robot(hass, english_moxie, robot_broker, robot)
    mqtt_probe.clear("moxie/status")
    ollama_server.replies.append(ChatReply(content="Hello."))
    utterance = await robot.say_to_robot(joe_pcm16("Hello Moxie.") + QUIET)
    heard = await robot.stt_response(utterance)
    await robot.chat(heard.speech)
    await mqtt_probe.wait_for("moxie/status", where=lambda m: m.text == "idle")
    states = [m.text for m in mqtt_probe.messages["moxie/status"]]
    assert states[:2] == ["listening", "thinking"], states
    assert states[-1] == "idle"


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_card_shows_the_robots_turns(
    hass: HomeAssistant,
    *,
    hass_ws_client: WebSocketGenerator,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
    robot_broker: Mosquitto,
    robot: RobotSim,
) -> None:
    """The Moxie card shows the robot's question with the robot as who asked, and the answer."""
    await serve_robot(hass, english_moxie, robot_broker, robot)
    card = await Subscription.start(await hass_ws_client(hass))
    ollama_server.replies.append(ChatReply(content="Spiders have eight legs."))
    await robot.chat("How many legs does a spider have?")
    turn = (await card.next("turn"))["turn"]
    assert turn["kind"] == "question"
    assert turn["question"] == "How many legs does a spider have?"
    assert turn["text"] == "Spiders have eight legs."
    robot_name = hass.states.get(ROBOT).name
    assert turn["device"] == robot_name
    # What the robot said on its own (its notify) is on the card too.
    await robot.send_chat("Let's play a game!", command="notify", event_id="evt-play")
    said = (await card.next("turn"))["turn"]
    assert (said["kind"], said["text"]) == ("speech", "Let's play a game!")


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_robot_opens_its_chat(
    hass: HomeAssistant,
    *,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    robot_broker: Mosquitto,
    robot: RobotSim,
) -> None:
    """A `prompt` (the robot opens the chat) gets Moxie's opening line; a bare reprompt none."""
    await serve_robot(hass, english_moxie, robot_broker, robot)
    reply = await robot.chat("", command="prompt", event_id="evt-open")
    assert reply["output"]["text"] == "Hi! What would you like to talk about?"
    assert reply["event_id"] == "evt-open"
    opened = await mqtt_probe.wait_for(
        "moxie/speech", where=lambda m: m.json()["text"] == reply["output"]["text"]
    )
    assert opened[0].json()["speak"] is False
    await robot.send_chat("", command="reprompt", event_id="evt-silent")
    ollama_server.replies.append(ChatReply(content="Fine."))
    assert (await robot.chat("And you?", event_id="evt-next"))["output"]["text"] == "Fine."
    assert not [c for c in robot.commands["remote_chat"] if c.json()["event_id"] == "evt-silent"]
    assert ollama_server.chat_requests[-1]["messages"][-1]["content"] == "And you?"
    assert await plain_speaker_heard(mqtt_probe) == []


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_stop_while_thinking_drops_the_answer(
    hass: HomeAssistant,
    *,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
    mqtt_probe: MqttProbe,
    robot_broker: Mosquitto,
    robot: RobotSim,
) -> None:
    """moxie.stop while Moxie thinks: INTERRUPT now, and the robot never gets that answer."""
    await serve_robot(hass, english_moxie, robot_broker, robot)
    mqtt_probe.clear("moxie/status")
    ollama_server.stall = asyncio.Event()
    ollama_server.replies.extend([ChatReply(content="A long story."), ChatReply(content="Ok.")])
    await robot.send_chat("Tell me a long story.", command="continue", event_id="evt-stopped")
    await mqtt_probe.wait_for("moxie/status", where=lambda m: m.text == "thinking")
    await hass.services.async_call("moxie", "stop", {}, blocking=True)
    await robot.wait(lambda: bool(robot.telehealth()))
    assert robot.telehealth() == [{"command": "telehealth", "message": {"action": "INTERRUPT"}}]
    ollama_server.stall.set()
    await mqtt_probe.wait_for("moxie/status", where=lambda m: m.text == "idle")
    reply = await robot.chat("Ok?", event_id="evt-after-stop")
    assert reply["output"]["text"] == "Ok."
    assert [c.json()["event_id"] for c in robot.commands["remote_chat"]] == ["evt-after-stop"]

"""The card's websocket commands: the conversation is for administrators, controls for all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.auth.const import GROUP_ID_ADMIN, GROUP_ID_READ_ONLY, GROUP_ID_USER
from homeassistant.auth.models import Credentials
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import CLIENT_ID, MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from peers.mqtt import MqttProbe, Received

SAID = "Mi mejor amiga se llama Lucía."


async def _token(hass: HomeAssistant, group_id: str) -> str:
    """An access token of a new person in group_id (what their browser uses)."""
    user = MockUser(groups=[await hass.auth.async_get_group(group_id)]).add_to_hass(hass)
    credential = Credentials(
        id=f"credential-{user.id}",
        auth_provider_type="homeassistant",
        auth_provider_id=None,
        data={"username": user.id},
        is_new=False,
    )
    user.credentials.append(credential)
    refresh_token = await hass.auth.async_create_refresh_token(
        user, CLIENT_ID, credential=credential
    )
    return hass.auth.async_create_access_token(refresh_token)


def _clearing(clear_queue: bool) -> Callable[[Received], bool]:
    """Match the stop messages that do (or do not) ask to drop the queue."""
    return lambda message: message.json()["clear_queue"] is clear_queue


async def _ask(client: Any, **message: Any) -> dict[str, Any]:
    await client.send_json_auto_id(message)
    result: dict[str, Any] = await client.receive_json()
    return result


@pytest.mark.parametrize("group_id", [GROUP_ID_USER, GROUP_ID_READ_ONLY])
async def test_conversation_is_refused_to_non_admins(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    group_id: str,
) -> None:
    await hass.services.async_call("moxie", "say", {"text": SAID}, blocking=True)
    client = await hass_ws_client(hass, await _token(hass, group_id))

    for command in ("moxie/conversation/list", "moxie/conversation/subscribe"):
        result = await _ask(client, type=command)
        assert not result["success"], command
        assert result["error"]["code"] == "unauthorized", command

    # What the card's controls need, and nothing of what was said.
    result = await _ask(client, type="moxie/card/get")
    assert result["success"], result
    moxie = result["result"]
    assert moxie["entry_id"] == moxie_entry.entry_id
    assert moxie["name"] == "Moxie"
    assert moxie["entities"]["status"] == "sensor.moxie_status"
    assert moxie["entities"]["puppet"] == "text.moxie_puppet"
    assert "turns" not in moxie
    assert "Lucía" not in str(result)


async def test_admin_sees_the_conversation(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, hass_ws_client: WebSocketGenerator
) -> None:
    await hass.services.async_call("moxie", "say", {"text": SAID}, blocking=True)
    client = await hass_ws_client(hass, await _token(hass, GROUP_ID_ADMIN))

    listed = await _ask(client, type="moxie/conversation/list")
    assert listed["success"], listed
    assert [moxie["entry_id"] for moxie in listed["result"]] == [moxie_entry.entry_id]

    subscribed = await _ask(client, type="moxie/conversation/subscribe")
    assert subscribed["success"], subscribed
    history = (await client.receive_json())["event"]
    assert history["type"] == "history"
    assert [turn["text"] for turn in history["turns"]] == [SAID]
    # Then what Moxie says now (no speaker reports here: the latest utterance).
    now = (await client.receive_json())["event"]
    assert (now["type"], now["text"]) == ("now", SAID)

    got = await _ask(client, type="moxie/card/get")
    assert got["success"], got
    assert got["result"]["entities"] == history["moxie"]["entities"]


async def test_card_get_unknown_moxie_is_an_error(
    hass: HomeAssistant, moxie_entry: MockConfigEntry, hass_ws_client: WebSocketGenerator
) -> None:
    client = await hass_ws_client(hass, await _token(hass, GROUP_ID_USER))
    result = await _ask(client, type="moxie/card/get", device_id="not-a-device")
    assert not result["success"]
    assert result["error"]["code"] == "not_found"


async def test_non_admin_card_buttons_stop_and_clear_the_queue(
    hass: HomeAssistant,
    moxie_entry: MockConfigEntry,
    mqtt_probe: MqttProbe,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """What the card's Stop and "Stop and clear the queue" send, for a non-admin user."""
    client = await hass_ws_client(hass, await _token(hass, GROUP_ID_USER))
    entry_id = (await _ask(client, type="moxie/card/get"))["result"]["entry_id"]
    for clear_queue in (False, True):
        data: dict[str, Any] = {"config_entry_id": entry_id, "reason": "card"}
        if clear_queue:
            data["clear_queue"] = True
        result = await _ask(
            client, type="call_service", domain="moxie", service="stop", service_data=data
        )
        assert result["success"], result
        [stop] = await mqtt_probe.wait_for("moxie/tts/stop", where=_clearing(clear_queue))
        assert stop.json()["reason"] == "card"


def test_the_card_names_every_source_in_both_languages() -> None:
    """Each source of the speech core has its own label in the card, in Spanish and English."""
    from pathlib import Path
    import re

    from custom_components.moxie.speech_core import SOURCES

    card = Path(__file__).parents[2] / "custom_components" / "moxie" / "www" / "moxie-card.js"
    blocks = re.findall(r"sources: \{(.*?)\}", card.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 2  # English, Spanish
    for block in blocks:
        labels = dict(re.findall(r"(\w+): \"([^\"]+)\"", block))
        assert set(SOURCES) <= set(labels), set(SOURCES) - set(labels)
        assert len(set(labels.values())) == len(labels), labels  # no two sources look alike

"""The Moxie card: served by the integration, fed by a websocket subscription.

At setup the card's module is served at `/moxie_static/moxie-card.js` and loaded by every
frontend (`frontend.add_extra_js_url`), so owners add "Moxie" from the card picker without a
manual resource step. The card asks `moxie/conversation/list` for the Moxies (its editor's
device list) and subscribes with `moxie/conversation/subscribe` to one Moxie's conversation:
first its entities and history, then each new turn and what Moxie is saying now.

What a child said to Moxie is for administrators only, as Home Assistant's own
`conversation/chat_log/subscribe`: both commands require an admin. Any user may ask
`moxie/card/get` for a Moxie's entities (no conversation), so the card's status, Puppet box,
Stop and volume keep working for everyone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from homeassistant.components import frontend, websocket_api
from homeassistant.components.http import StaticPathConfig
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
import probatio as vol

from .const import CONF_LANGUAGE, DEFAULT_LANGUAGE, DOMAIN, SUBENTRY_AGENT
from .models import MoxieConfigEntry

CARD_FILE = Path(__file__).parent / "www" / "moxie-card.js"
STATIC_URL = "/moxie_static"
CARD_URL = f"{STATIC_URL}/moxie-card.js"


async def async_setup_card(hass: HomeAssistant) -> None:
    """Serve the card, load it in every frontend and register its websocket commands."""
    websocket_api.async_register_command(hass, ws_list)
    websocket_api.async_register_command(hass, ws_subscribe)
    websocket_api.async_register_command(hass, ws_get)
    await hass.http.async_register_static_paths(
        [StaticPathConfig(STATIC_URL, str(CARD_FILE.parent), cache_headers=False)]
    )
    version = await hass.async_add_executor_job(_version)
    if "frontend" in hass.config.components:
        frontend.add_extra_js_url(hass, f"{CARD_URL}?v={version}")


def _version() -> str:
    """Short hash of the card's code, so browsers load a new card after an update."""
    return hashlib.sha256(CARD_FILE.read_bytes()).hexdigest()[:12]


def _loaded(hass: HomeAssistant) -> list[MoxieConfigEntry]:
    return [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry.state is ConfigEntryState.LOADED
    ]


def _mqtt_device(hass: HomeAssistant, entry: MoxieConfigEntry) -> str | None:
    """Return the Moxie device (MQTT: Puppet, Speech, Status and the speaker's entities)."""
    dev_id = entry.runtime_data.mirror.topics.device_id
    devices = dr.async_get(hass).async_get_devices(identifiers={("mqtt", dev_id)})
    return devices[0].id if devices else None


def _entry_for_device(hass: HomeAssistant, device_id: str | None) -> MoxieConfigEntry | None:
    """Return the Moxie of a device (its MQTT device or an agent's), or the only Moxie."""
    loaded = _loaded(hass)
    if device_id is None:
        return loaded[0] if len(loaded) == 1 else None
    device = dr.async_get(hass).async_get(device_id)
    for entry in loaded:
        if device_id == _mqtt_device(hass, entry) or (
            device is not None and device.config_entry_id == entry.entry_id
        ):
            return entry
    return None


def _entities(hass: HomeAssistant, entry: MoxieConfigEntry) -> dict[str, Any]:
    """Return the entity ids the card drives, by unique id (renamed entities still work)."""
    registry = er.async_get(hass)
    dev_id = entry.runtime_data.mirror.topics.device_id

    def mqtt_entity(domain: str, key: str) -> str | None:
        return registry.async_get_entity_id(domain, "mqtt", f"{dev_id}_{key}")

    takeovers = [
        entity_id
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_AGENT
        and (
            entity_id := registry.async_get_entity_id(
                "switch", DOMAIN, f"{entry.entry_id}_{subentry.subentry_id}_takeover"
            )
        )
    ]
    return {
        "status": mqtt_entity("sensor", "status"),
        "puppet": mqtt_entity("text", "puppet"),
        "speech": mqtt_entity("event", "speech"),
        "speaking": mqtt_entity("binary_sensor", "speaker_speaking"),
        "volume": mqtt_entity("number", "speaker_volume"),
        "takeover": takeovers,
    }


def _moxie(hass: HomeAssistant, entry: MoxieConfigEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "name": entry.title,
        "language": entry.data.get(CONF_LANGUAGE, DEFAULT_LANGUAGE),
        "device_id": _mqtt_device(hass, entry),
    }


@callback
@websocket_api.websocket_command({vol.Required("type"): "moxie/conversation/list"})
@websocket_api.require_admin
def ws_list(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """List the loaded Moxies (for the card's editor)."""
    connection.send_result(msg["id"], [_moxie(hass, entry) for entry in _loaded(hass)])


@callback
@websocket_api.websocket_command(
    {
        vol.Required("type"): "moxie/conversation/subscribe",
        vol.Optional("device_id"): vol.Any(str, None),
    }
)
@websocket_api.require_admin
def ws_subscribe(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """Send one Moxie's entities and conversation, then each change, until unsubscribed."""
    entry = _entry_for_device(hass, msg.get("device_id"))
    if entry is None or (log := entry.runtime_data.conversation_log) is None:
        connection.send_error(msg["id"], websocket_api.ERR_NOT_FOUND, "No loaded Moxie found")
        return

    @callback
    def forward(message: dict[str, Any]) -> None:
        connection.send_message(websocket_api.event_message(msg["id"], message))

    connection.subscriptions[msg["id"]] = log.async_listen(forward)
    connection.send_result(msg["id"])
    forward(
        {
            "type": "history",
            "moxie": {**_moxie(hass, entry), "entities": _entities(hass, entry)},
            "keeps": log.keeps,
            "turns": log.history(),
        }
    )
    forward(log.now)


@callback
@websocket_api.websocket_command(
    {
        vol.Required("type"): "moxie/card/get",
        vol.Optional("device_id"): vol.Any(str, None),
    }
)
def ws_get(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """Send one Moxie's entities, without its conversation (any user: the card's controls)."""
    entry = _entry_for_device(hass, msg.get("device_id"))
    if entry is None:
        connection.send_error(msg["id"], websocket_api.ERR_NOT_FOUND, "No loaded Moxie found")
        return
    connection.send_result(msg["id"], {**_moxie(hass, entry), "entities": _entities(hass, entry)})

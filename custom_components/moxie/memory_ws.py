"""The parents' view of Moxie's memory: websocket commands of the Moxie card, admins only.

`moxie/memory/subscribe` sends every memory of a Moxie (who, what, when learned, when last
used, when it expires), then the whole list again after each change; `moxie/memory/update`
corrects one, `moxie/memory/delete` forgets one, `moxie/memory/clear` erases all of a person's.
What children told Moxie is for administrators, like the conversation.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components import websocket_api
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
import probatio as vol

from .card import _entry_for_device
from .memory import HOUSEHOLD, Memory, MemoryStore


@callback
def async_setup_memory_ws(hass: HomeAssistant) -> None:
    """Register the memory commands."""
    websocket_api.async_register_command(hass, ws_subscribe)
    websocket_api.async_register_command(hass, ws_update)
    websocket_api.async_register_command(hass, ws_delete)
    websocket_api.async_register_command(hass, ws_clear)


async def async_described(hass: HomeAssistant, store: MemoryStore) -> dict[str, Any]:
    """Return every memory with its person's name, and whether memory is on."""
    names: dict[str, str | None] = {}
    for scope in {memory.scope for memory in store.memories.values()}:
        names[scope] = await async_person_name(hass, scope)
    return {
        "type": "memories",
        "retention_days": store.retention_days,
        "memories": [_described(memory, names.get(memory.scope)) for memory in store.all()],
    }


async def async_person_name(hass: HomeAssistant, scope: str) -> str | None:
    """Return the name of whose memories scope holds (None for the household or unknown)."""
    kind, _, key = scope.partition(":")
    if kind == "user" and (user := await hass.auth.async_get_user(key)):
        return user.name
    if kind == "device" and (device := dr.async_get(hass).async_get(key)):
        return device.name_by_user or device.name
    return None


def _described(memory: Memory, name: str | None) -> dict[str, Any]:
    kind = memory.scope.partition(":")[0] if memory.scope != HOUSEHOLD else HOUSEHOLD
    return {**asdict(memory), "kind": kind, "who": name}


def _store(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> MemoryStore | None:
    entry = _entry_for_device(hass, msg.get("device_id"))
    if entry is None or entry.runtime_data.memory is None:
        connection.send_error(msg["id"], websocket_api.ERR_NOT_FOUND, "No loaded Moxie found")
        return None
    return entry.runtime_data.memory


_DEVICE = vol.Optional("device_id")


@websocket_api.websocket_command(
    {vol.Required("type"): "moxie/memory/subscribe", _DEVICE: vol.Any(str, None)}
)
@websocket_api.require_admin
@websocket_api.async_response
async def ws_subscribe(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """Send every memory of a Moxie, then again after each change, until unsubscribed."""
    if (store := _store(hass, connection, msg)) is None:
        return

    async def send() -> None:
        described = await async_described(hass, store)
        connection.send_message(websocket_api.event_message(msg["id"], described))

    @callback
    def changed() -> None:
        hass.async_create_task(send(), "Moxie memory list", eager_start=False)

    connection.subscriptions[msg["id"]] = store.async_listen(changed)
    connection.send_result(msg["id"])
    await send()


@websocket_api.websocket_command(
    {
        vol.Required("type"): "moxie/memory/update",
        _DEVICE: vol.Any(str, None),
        vol.Required("memory_id"): str,
        vol.Required("text"): vol.All(str, vol.Length(min=1, max=300)),
    }
)
@websocket_api.require_admin
@callback
def ws_update(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """Correct what a memory says."""
    if (store := _store(hass, connection, msg)) is None:
        return
    if (memory := store.async_update(msg["memory_id"], msg["text"])) is None:
        connection.send_error(msg["id"], websocket_api.ERR_NOT_FOUND, "No such memory")
        return
    connection.send_result(msg["id"], asdict(memory))


@websocket_api.websocket_command(
    {
        vol.Required("type"): "moxie/memory/delete",
        _DEVICE: vol.Any(str, None),
        vol.Required("memory_id"): str,
    }
)
@websocket_api.require_admin
@callback
def ws_delete(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """Forget one memory."""
    if (store := _store(hass, connection, msg)) is None:
        return
    if not store.async_delete(msg["memory_id"]):
        connection.send_error(msg["id"], websocket_api.ERR_NOT_FOUND, "No such memory")
        return
    connection.send_result(msg["id"])


@websocket_api.websocket_command(
    {
        vol.Required("type"): "moxie/memory/clear",
        _DEVICE: vol.Any(str, None),
        vol.Required("scope"): str,
    }
)
@websocket_api.require_admin
@callback
def ws_clear(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """Erase every memory of one person (a scope)."""
    if (store := _store(hass, connection, msg)) is None:
        return
    connection.send_result(msg["id"], {"forgotten": store.async_clear(msg["scope"])})

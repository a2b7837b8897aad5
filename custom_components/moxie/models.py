"""Runtime data of a Moxie config entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from .discovery import MoxieDiscovery
    from .mirror import SpeechMirror


@dataclass
class MoxieData:
    """What a loaded Moxie entry holds: its speech mirror and its MQTT device."""

    mirror: SpeechMirror
    discovery: MoxieDiscovery


type MoxieConfigEntry = ConfigEntry[MoxieData]

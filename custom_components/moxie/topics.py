"""The MQTT topic tree of one Moxie (see MQTT.md)."""

from __future__ import annotations

from dataclasses import dataclass
import re

from .const import DISCOVERY_PREFIX


def device_id(base_topic: str) -> str:
    """Return the MQTT device id shared by the integration and the speaker."""
    return "moxie_" + re.sub(r"[^a-z0-9]+", "_", base_topic.lower()).strip("_")


@dataclass(frozen=True, slots=True)
class MoxieTopics:
    """Every topic derived from a base topic."""

    base: str

    @property
    def tts_text(self) -> str:
        """The speech mirror: every text Moxie says."""
        return f"{self.base}/tts/text"

    @property
    def tts_stop(self) -> str:
        """Interrupt the speaker now."""
        return f"{self.base}/tts/stop"

    @property
    def tts_status(self) -> str:
        """The speaker's retained status."""
        return f"{self.base}/tts/status"

    @property
    def puppet_set(self) -> str:
        """Text Moxie says verbatim (the Puppet text entity's command topic)."""
        return f"{self.base}/puppet/set"

    @property
    def puppet_state(self) -> str:
        """What the Puppet text box shows: the line being said, then empty for the next one."""
        return f"{self.base}/puppet/state"

    @property
    def speech(self) -> str:
        """One event per complete utterance seen on the mirror (the Speech event entity)."""
        return f"{self.base}/speech"

    @property
    def status(self) -> str:
        """The assistant's state: idle, listening, thinking or speaking."""
        return f"{self.base}/status"

    @property
    def speaker_availability(self) -> str:
        """The speaker's availability (its last will)."""
        return f"{self.base}/speaker/availability"

    @property
    def availability(self) -> str:
        """The integration's availability."""
        return f"{self.base}/availability"

    @property
    def device_id(self) -> str:
        """The Moxie device's MQTT id."""
        return device_id(self.base)

    @property
    def discovery(self) -> str:
        """Where the integration's device discovery message lives."""
        return f"{DISCOVERY_PREFIX}/device/{self.device_id}/config"

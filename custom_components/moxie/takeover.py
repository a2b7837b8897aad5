"""Puppet takeover: while a human speaks through Moxie, the agent pauses and says "un momento"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
import logging

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

_LOGGER = logging.getLogger(__name__)


class Takeover:
    """The pause of one agent: started by the Puppet or the switch, ended by time or the switch."""

    def __init__(self, hass: HomeAssistant, duration: timedelta) -> None:
        """Prepare an inactive takeover lasting `duration` each time it starts."""
        self.hass = hass
        self.duration = duration
        self.until: datetime | None = None
        self._listeners: list[Callable[[], None]] = []
        self._cancel_timer: CALLBACK_TYPE | None = None

    @property
    def active(self) -> bool:
        """Whether the agent is paused now."""
        return self.until is not None

    @callback
    def async_start(self, duration: timedelta | None = None) -> None:
        """Pause the agent (again) for duration, from now."""
        self._cancel()
        self.until = dt_util.utcnow() + (duration or self.duration)
        self._cancel_timer = async_track_point_in_utc_time(
            self.hass, self._async_expired, self.until
        )
        _LOGGER.debug("Takeover until %s", self.until)
        self._notify()

    @callback
    def async_end(self) -> None:
        """Give the conversation back to the agent now."""
        if self.until is None:
            return
        self._cancel()
        self.until = None
        _LOGGER.debug("Takeover ended")
        self._notify()

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call listener whenever the takeover starts or ends."""
        self._listeners.append(listener)

        @callback
        def remove() -> None:
            self._listeners.remove(listener)

        return remove

    @callback
    def async_puppet_spoke(self, _text: str) -> None:
        """Pause the agent (again) from now: the Puppet made Moxie speak."""
        self.async_start()

    @callback
    def async_shutdown(self) -> None:
        """Cancel the timer (entry unload)."""
        self._cancel()

    @callback
    def _async_expired(self, _now: datetime) -> None:
        self._cancel_timer = None
        self.async_end()

    def _cancel(self) -> None:
        if self._cancel_timer is not None:
            self._cancel_timer()
            self._cancel_timer = None

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

"""What Moxie's speaker is doing, and "has Moxie said it?" by utterance id (one watch per entry).

The speaker reports on `<base>/tts/status` (retained: `status`, `current_text`, `current_id`,
`queue_size`, `finished_id`, `finished_outcome`) and `<base>/speaker/availability` (retained
`online` / `offline`, its last will). The assistant Status, the voice satellite's announcements
and its follow-up after an answer, and the card all wait for "heard" here, by id.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Sequence
import logging

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from .listeners import add_listener
from .speech_core import ONLINE, PayloadError, SpeakerStatus, StopRequest, Topics, parse_status

_LOGGER = logging.getLogger(__name__)

# How long the speaker may take to start on an utterance (a long queue ahead of it included).
START_TIMEOUT = 15.0
# A safety net for a speaker that dies without its last will: no utterance takes longer.
SAY_LIMIT = 600.0
# Ids remembered as started or finished.
REMEMBERED = 512


def _remember(ids: OrderedDict[str, None], uid: str | None) -> None:
    if uid is None:
        return
    ids[uid] = None
    ids.move_to_end(uid)
    while len(ids) > REMEMBERED:
        ids.popitem(last=False)


class SpeakerWatch:
    """Follows Moxie's speaker through its retained status and availability."""

    def __init__(self, hass: HomeAssistant, topics: Topics) -> None:
        """Prepare; call async_start to subscribe."""
        self.hass = hass
        self.topics = topics
        self.online: bool | None = None
        self.state = SpeakerStatus()
        # Whether a speaker ever reported its status (without one, nothing waits for it).
        self.seen = False
        self._started: OrderedDict[str, None] = OrderedDict()
        self._finished: OrderedDict[str, None] = OrderedDict()
        # Counts the stops seen: a wait that began before a stop ends with it.
        self.stops = 0
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []

    @property
    def speaking(self) -> bool:
        """Whether the speaker is saying something now."""
        return self.state.speaking

    @property
    def current_text(self) -> str | None:
        """What the speaker is saying now."""
        return self.state.current_text if self.speaking else None

    @property
    def current_id(self) -> str | None:
        """The id of the utterance the speaker is saying now."""
        return self.state.current_id if self.speaking else None

    @property
    def offline(self) -> bool:
        """Whether the speaker said it is offline (its last will)."""
        return self.online is False

    @property
    def busy(self) -> bool:
        """Whether the speaker is speaking or has something queued."""
        return self.speaking or self.state.queue_size > 0

    async def async_start(self) -> None:
        """Subscribe to the speaker's status and availability."""
        self._unsubscribe = [
            await mqtt.async_subscribe(
                self.hass, self.topics.tts_status, self._async_status, qos=1, encoding=None
            ),
            await mqtt.async_subscribe(
                self.hass, self.topics.speaker_availability, self._async_availability, qos=1
            ),
        ]

    @callback
    def async_stop(self) -> None:
        """Unsubscribe."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    @callback
    def async_listen(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call listener whenever the speaker's state changes."""
        return add_listener(self._listeners, listener)

    @callback
    def async_stopped(self, request: StopRequest) -> None:
        """End whatever was being waited for: a stop was given (said or not)."""
        del request
        self.stops += 1
        self._notify()

    async def async_wait(self, condition: Callable[[], bool], within: float) -> bool:
        """Wait until condition holds; False when `within` seconds passed first."""
        try:
            async with asyncio.timeout(within):
                while not condition():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def started(self, uid: str) -> bool:
        """Whether the speaker has started saying the utterance uid."""
        return uid in self._started

    def finished(self, uid: str) -> bool:
        """Whether the utterance uid has left the speaker (played, stopped, cleared...)."""
        return uid in self._finished

    async def async_wait_heard(
        self, ids: Sequence[str], start_timeout: float = START_TIMEOUT
    ) -> bool | None:
        """Wait until the speaker is done with the utterances ids (said in order).

        Returns None when none of them started within start_timeout (the speaker is silent),
        True once the last has left the speaker (or a stop ended them, or the speaker went
        quiet after starting them), False when the speaker went offline or never finished.
        """
        if not ids:
            return True
        stops = self.stops

        def begun() -> bool:
            return self.stops != stops or any(self.started(uid) for uid in ids)

        def over() -> bool:
            return (
                self.stops != stops
                or self.offline
                or self.finished(ids[-1])
                or (not self.busy and all(self.started(uid) for uid in ids))
            )

        if not await self.async_wait(lambda: begun() or self.offline, start_timeout):
            return None
        if not await self.async_wait(over, SAY_LIMIT):
            _LOGGER.warning("The speaker never finished %s", ids[-1])
            return False
        return not self.offline

    @callback
    def _async_status(self, msg: mqtt.ReceiveMessage) -> None:
        try:
            state = parse_status(msg.payload)
        except PayloadError as err:
            _LOGGER.debug("Ignoring speaker status %r: %s", msg.payload, err)
            return
        self.seen = True
        self.state = state
        if state.speaking:
            _remember(self._started, state.current_id)
        _remember(self._started, state.finished_id)
        _remember(self._finished, state.finished_id)
        self._notify()

    @callback
    def _async_availability(self, msg: mqtt.ReceiveMessage) -> None:
        self.online = msg.payload == ONLINE
        if not self.online:
            self.state = SpeakerStatus()
        self._notify()

    @callback
    def _notify(self) -> None:
        self._changed.set()
        for listener in list(self._listeners):
            listener()

"""The speaker's MQTT side: persistent QoS 1 session, status, discovery, reconnect with backoff."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import logging
import ssl

import aiomqtt

from wyoming_servers.speech_core import OFFLINE, ONLINE, Topics, parse_stop

from .discovery import DEFAULT_LANGUAGE, discovery_payload
from .speaker import Finished, Speaker

_LOGGER = logging.getLogger(__name__)

# What a status says, without its timestamp: a change is published, a repeat is not.
type StatusKey = tuple[str, str | None, str | None, int, str | None, str | None]

# How long the first connection waits for the retained volume before publishing its own.
VOLUME_RESTORE_WAIT = 1.0
BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """How to reach the broker."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    tls_insecure: bool = False
    client_id: str = "moxie-speaker"
    keepalive: int = 30


class MqttBridge:
    """Feeds mirror messages to the speaker and reports its state, across broker restarts."""

    def __init__(
        self,
        settings: MqttSettings,
        topics: Topics,
        speaker: Speaker,
        *,
        restore_volume: bool = False,
        language: str = DEFAULT_LANGUAGE,
    ) -> None:
        """Bridge speaker to the broker; restore_volume takes the retained volume at start.

        `language` names the discovered entities (es or en).
        """
        self.settings = settings
        self.language = language
        self.topics = topics
        self.speaker = speaker
        self.connected = False
        self.connections = 0
        self._dirty = asyncio.Event()
        # The last finished utterance whose status went out (across reconnects: one finished
        # while the broker was away is published on the next connection).
        self._finished_sent = 0
        # Until set, the volume is not published (the retained one may still come in).
        self._volume_known = asyncio.Event()
        if not restore_volume:
            self._volume_known.set()
        speaker.add_listener(self._dirty.set)

    def _client(self) -> aiomqtt.Client:
        settings = self.settings
        tls_context: ssl.SSLContext | None = None
        if settings.tls:
            tls_context = ssl.create_default_context(cafile=settings.ca_file)
            if settings.tls_insecure:
                tls_context.check_hostname = False
                tls_context.verify_mode = ssl.CERT_NONE
        return aiomqtt.Client(
            settings.host,
            settings.port,
            username=settings.username,
            password=settings.password,
            identifier=settings.client_id,
            clean_session=False,
            keepalive=settings.keepalive,
            tls_context=tls_context,
            will=aiomqtt.Will(
                self.topics.speaker_availability, OFFLINE.encode(), qos=1, retain=True
            ),
            timeout=10,
        )

    async def run(self) -> None:
        """Stay connected forever, reconnecting with exponential backoff."""
        delay = BACKOFF_MIN
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as err:
                if self.connected:
                    delay = BACKOFF_MIN
                    _LOGGER.warning("Lost the MQTT broker (%s); reconnecting", err)
                else:
                    _LOGGER.warning(
                        "Cannot reach MQTT broker %s:%s (%s); retrying in %.1f s",
                        self.settings.host,
                        self.settings.port,
                        err,
                        delay,
                    )
            self.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _session(self) -> None:
        topics = self.topics
        async with self._client() as client:
            self.connected = True
            self.connections += 1
            _LOGGER.info(
                "Connected to MQTT %s:%s; listening on %s",
                self.settings.host,
                self.settings.port,
                topics.tts_text,
            )
            publisher = asyncio.create_task(self._publisher(client))
            try:
                await client.subscribe(
                    [
                        (topics.tts_text, 1),
                        (topics.tts_stop, 1),
                        (topics.speaker_volume_set, 1),
                        (topics.speaker_volume, 1),
                        (topics.ha_status, 1),
                    ]
                )
                await client.publish(
                    topics.speaker_availability, ONLINE.encode(), qos=1, retain=True
                )
                await self._publish_discovery(client)
                if not self._volume_known.is_set():
                    asyncio.get_running_loop().call_later(
                        VOLUME_RESTORE_WAIT, self._volume_restored, None
                    )
                async for message in client.messages:
                    await self._dispatch(client, message)
            except asyncio.CancelledError:
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    async with asyncio.timeout(2):
                        await client.publish(
                            topics.speaker_availability, OFFLINE.encode(), qos=1, retain=True
                        )
                raise
            finally:
                publisher.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await publisher

    async def _dispatch(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        topic = message.topic
        payload = message.payload if isinstance(message.payload, bytes) else b""
        if topic.matches(self.topics.tts_text):
            if message.retain:
                # Speech is never retained: a retained message would be said on every connect.
                self.speaker.stats.retained_ignored += 1
                _LOGGER.warning("Ignoring a retained message on %s", self.topics.tts_text)
                return
            self.speaker.submit(payload)
        elif topic.matches(self.topics.tts_stop):
            self.speaker.stop(parse_stop(payload))
        elif topic.matches(self.topics.speaker_volume_set):
            if (volume := _volume(payload)) is not None:
                self.speaker.set_volume(volume)
                self._volume_known.set()
        elif topic.matches(self.topics.speaker_volume):
            if message.retain and not self._volume_known.is_set():
                self._volume_restored(_volume(payload))
        elif topic.matches(self.topics.ha_status) and payload.strip() == b"online":
            _LOGGER.info("Home Assistant is online: publishing discovery again")
            await self._publish_discovery(client)

    def _volume_restored(self, volume: int | None) -> None:
        if self._volume_known.is_set():
            return
        if volume is not None:
            _LOGGER.info("Volume %s%% restored from %s", volume, self.topics.speaker_volume)
            self.speaker.set_volume(volume)
        self._volume_known.set()
        self._dirty.set()

    async def _publish_discovery(self, client: aiomqtt.Client) -> None:
        await client.publish(
            self.topics.speaker_discovery,
            discovery_payload(self.topics, self.language),
            qos=1,
            retain=True,
        )
        self._dirty.set()

    async def _publisher(self, client: aiomqtt.Client) -> None:
        """Publish the latest status and volume whenever they change (coalesced)."""
        last_status: StatusKey | None = None
        last_volume: int | None = None
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                last_status, last_volume = await self._publish_state(
                    client, last_status, last_volume
                )
            except aiomqtt.MqttError as err:
                # The session loop notices a lost connection; retry the state meanwhile.
                _LOGGER.debug("Publishing status failed (%s); retrying", err)
                self._dirty.set()
                await asyncio.sleep(1)

    async def _publish_state(
        self,
        client: aiomqtt.Client,
        last_status: StatusKey | None,
        last_volume: int | None,
    ) -> tuple[StatusKey | None, int | None]:
        """Publish status and volume if they changed; return what is now published.

        Every utterance that finished since the last call gets a status of its own (naming it
        in `finished_id`), so none is lost when several finish at once (a stopped answer).
        """
        speaker = self.speaker
        unsent: list[Finished | None] = [
            finished for finished in speaker.finished if finished.seq > self._finished_sent
        ]
        for finished in unsent or [None]:
            status = speaker.speaker_status(finished)
            key: StatusKey = (
                status.status,
                status.current_text,
                status.current_id,
                status.queue_size,
                status.finished_id,
                status.finished_outcome,
            )
            if key != last_status:
                await client.publish(
                    self.topics.tts_status, status.as_payload().encode(), qos=1, retain=True
                )
                last_status = key
            if finished is not None:
                self._finished_sent = finished.seq
        if speaker.volume != last_volume and self._volume_known.is_set():
            await client.publish(
                self.topics.speaker_volume, str(speaker.volume).encode(), qos=1, retain=True
            )
            last_volume = speaker.volume
        return last_status, last_volume


def _volume(payload: bytes) -> int | None:
    try:
        return min(max(round(float(payload.decode())), 0), 100)
    except UnicodeDecodeError, ValueError, OverflowError:
        _LOGGER.warning("Ignoring volume %r (expected 0-100)", payload[:40])
        return None

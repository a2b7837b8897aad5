"""The link to a Moxie robot: OpenMoxie's broker, the robot's topics, its utterances.

The robot talks to its server over OpenMoxie's own Mosquitto, not over the house broker Home
Assistant's MQTT integration is bound to (one MQTT integration entry, one broker). So the link has
its own MQTT client (paho-mqtt, Home Assistant's MQTT library), run in paho's network thread;
every message is handed to Home Assistant's event loop, where everything else happens.

What the link does, and nothing more (the satellite decides what Moxie says):
- connects (anonymous; TLS with a CA file or without verification, or plain), reconnects by
  itself, subscribes to the robot's events and asks the robot for its microphone
  (`ProtoSubscribe` of `zmqSTTRequest`) on every connect and whenever the robot shows up again;
- assembles each utterance's `zmqSTTRequest` frames (by uuid) into an audio stream for the
  transcriber as they arrive, and answers `zmqSTTResponse` FINAL with the text and the uuid
  (error_code 66 when transcription failed);
- hands RemoteChatRequests to the chat handler and publishes its reply on `commands/remote_chat`;
- publishes commands (`telehealth`).

Malformed frames, unknown protobuf names, oversized payloads and broken JSON are logged and
counted (`rejected`); the link keeps running.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
import contextlib
from dataclasses import dataclass, field
import json
import logging
import ssl
import time
from typing import Any
import uuid as uuid_lib

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from .const import (
    CONF_ROBOT_CA_FILE,
    CONF_ROBOT_DEVICE_ID,
    CONF_ROBOT_ENABLED,
    CONF_ROBOT_HOST,
    CONF_ROBOT_INSECURE,
    CONF_ROBOT_PORT,
    CONF_ROBOT_TLS,
    DEFAULT_ROBOT_PORT,
)
from .robot_protocol import (
    AUDIO_RATE,
    AUDIO_WIDTH,
    PROTO_SUBSCRIBE,
    STT_ERROR,
    STT_REQUEST,
    STT_RESPONSE,
    VAD_END,
    RemoteChatRequest,
    RobotProtocolError,
    RobotTopics,
    SttResponse,
    decode_stt_request,
    device_of_topic,
    encode_proto_subscribe,
    frame,
    parse_remote_chat,
    remote_chat_reply,
    unframe,
)

_LOGGER = logging.getLogger(__name__)

# One utterance is at most this long; longer ones are ended (and transcribed) there.
MAX_UTTERANCE_SECONDS = 30.0
# An utterance whose frames stop coming for this long is ended without END_OF_SPEECH.
FRAME_GAP_TIMEOUT = 5.0
# Utterances being heard at once; the oldest is dropped beyond.
MAX_OPEN_UTTERANCES = 4
# Uuids remembered as finished, so late frames of an answered utterance are not a new one.
FINISHED_REMEMBERED = 64
# The robot is asked for its microphone again when it shows up after this long in silence.
RESUBSCRIBE_AFTER = 30.0
# Mosquitto's notice of a client connecting ($SYS/broker/log/N, when it logs to topics).
BROKER_LOG = "$SYS/broker/log/N"
KEEPALIVE = 30


@dataclass(frozen=True, slots=True)
class RobotSettings:
    """Where the robot's broker is and which robot Moxie serves (the entry's options)."""

    host: str
    port: int
    tls: bool
    ca_file: str | None
    insecure: bool
    device_id: str


def robot_settings(options: Mapping[str, Any]) -> RobotSettings | None:
    """Return the robot settings of an entry's options; None when the robot is off or unset."""
    if not options.get(CONF_ROBOT_ENABLED):
        return None
    host = str(options.get(CONF_ROBOT_HOST) or "").strip()
    device_id = str(options.get(CONF_ROBOT_DEVICE_ID) or "").strip()
    if not host or not device_id:
        return None
    return RobotSettings(
        host=host,
        port=int(options.get(CONF_ROBOT_PORT) or DEFAULT_ROBOT_PORT),
        tls=bool(options.get(CONF_ROBOT_TLS, True)),
        ca_file=str(options.get(CONF_ROBOT_CA_FILE) or "").strip() or None,
        insecure=bool(options.get(CONF_ROBOT_INSECURE, False)),
        device_id=device_id,
    )


def tls_context(tls: bool, ca_file: str | None, insecure: bool) -> ssl.SSLContext | None:
    """Return the TLS context of the robot's broker (None: plain); blocking, reads the CA."""
    if not tls:
        return None
    if insecure:
        # OpenMoxie's Mosquitto runs with self-signed keys: "don't verify" accepts them.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context(cafile=ca_file)
    if ca_file:
        # OpenMoxie's own CA (its `keys/ca.crt`) signs its broker's certificate: that chain is
        # checked. Its certificate names `mqtt.example.com` whatever the broker's address, so
        # the host name is not; and its CA, made with a plain `openssl req -x509`, has no key
        # usage extension, which Python's strict X.509 checks refuse.
        context.check_hostname = False
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


def new_client(name: str, context: ssl.SSLContext | None) -> paho.Client:
    """Return a paho client (anonymous, MQTT 3.1.1) with a random client id."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"{name}-{uuid_lib.uuid4().hex[:12]}",
        protocol=paho.MQTTv311,
    )
    if context is not None:
        client.tls_set_context(context)
    client.reconnect_delay_set(1, 30)
    return client


class RobotConnectError(Exception):
    """The robot's broker could not be reached (reason: `cannot_connect`, `tls_failed`)."""

    def __init__(self, reason: str) -> None:
        """Fail with reason."""
        super().__init__(reason)
        self.reason = reason


async def async_discover_robots(
    hass: HomeAssistant,
    host: str,
    port: int,
    context: ssl.SSLContext | None,
    seconds: float = 3.0,
) -> list[str]:
    """Return the device ids seen on `/devices/+/events/#` (and `/state`) within seconds.

    Raises RobotConnectError when the broker cannot be reached.
    """
    client = new_client("moxie-ha-discovery", context)
    seen: list[str] = []
    connected: asyncio.Future[int] = hass.loop.create_future()

    def on_connect(
        client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        code = int(getattr(reason, "value", reason))
        hass.loop.call_soon_threadsafe(
            lambda: None if connected.done() else connected.set_result(code)
        )
        if code == 0:
            client.subscribe([("/devices/+/events/#", 0), ("/devices/+/state", 0)])

    def on_message(client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        device = device_of_topic(msg.topic) or _device_of_state(msg.topic)
        if device and device not in seen:
            seen.append(device)

    client.on_connect = on_connect
    client.on_message = on_message
    try:
        await hass.async_add_executor_job(client.connect, host, port, KEEPALIVE)
    except ssl.SSLError as err:
        _LOGGER.debug("TLS with the robot's broker failed: %s", err)
        raise RobotConnectError("tls_failed") from err
    except OSError as err:
        _LOGGER.debug("The robot's broker is unreachable: %s", err)
        raise RobotConnectError("cannot_connect") from err
    client.loop_start()
    try:
        async with asyncio.timeout(10):
            code = await connected
        if code != 0:
            raise RobotConnectError("cannot_connect")
        await asyncio.sleep(seconds)  # listening for robots is the point: no event to await
    except TimeoutError as err:
        raise RobotConnectError("cannot_connect") from err
    finally:
        client.disconnect()
        await hass.async_add_executor_job(client.loop_stop)
    return list(seen)


def _device_of_state(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == "" and parts[1] == "devices" and parts[3] == "state":
        return parts[2]
    return None


type Transcriber = Callable[[AsyncIterator[bytes]], Awaitable[tuple[str, str]]]
type ChatHandler = Callable[[RemoteChatRequest], Awaitable[str | None]]


@dataclass(slots=True)
class _Utterance:
    """One utterance being heard: its audio goes to the transcriber as it arrives."""

    uuid: str
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    size: int = 0
    first_timestamp: int = 0
    last_timestamp: int = 0
    ended: bool = False
    answered: bool = False  # the zmqSTTResponse is decided
    task: asyncio.Task[None] | None = None


class RobotLink:
    """The robot's broker and topics; `handlers` decide what Moxie hears and says."""

    def __init__(
        self,
        hass: HomeAssistant,
        settings: RobotSettings,
        *,
        transcribe: Transcriber,
        chat: ChatHandler,
        notify: Callable[[RemoteChatRequest], None],
        utterance_started: Callable[[str], None],
        utterance_ended: Callable[[str], None],
        connection_changed: Callable[[bool], None],
    ) -> None:
        """Prepare the link; async_start connects."""
        self.hass = hass
        self.settings = settings
        self.topics = RobotTopics(settings.device_id)
        self._transcribe = transcribe
        self._chat = chat
        self._notify = notify
        self._utterance_started = utterance_started
        self._utterance_ended = utterance_ended
        self._connection_changed = connection_changed
        self.connected = False
        self.connect_failures = 0
        # What was refused, by reason (diagnostics); what was handled, by kind.
        self.rejected: Counter[str] = Counter()
        self.handled: Counter[str] = Counter()
        self._utterances: dict[str, _Utterance] = {}
        self._finished: list[str] = []
        self._last_seen: float | None = None
        self._client: paho.Client | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsub_stop: CALLBACK_TYPE | None = None
        self._stopped = False

    # -- life cycle ---------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Connect in the background (paho reconnects by itself while the broker is away)."""
        s = self.settings
        context = await self.hass.async_add_executor_job(tls_context, s.tls, s.ca_file, s.insecure)
        client = new_client("moxie-ha", context)
        client.on_connect = self._paho_connect
        client.on_disconnect = self._paho_disconnect
        client.on_message = self._paho_message
        client.on_connect_fail = self._paho_connect_fail
        self._client = client
        client.connect_async(s.host, s.port, KEEPALIVE)
        client.loop_start()
        self._unsub_stop = self.hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._async_hass_stop
        )

    async def _async_hass_stop(self, event: Event) -> None:
        self._unsub_stop = None
        await self.async_stop()

    async def async_stop(self) -> None:
        """Disconnect, end paho's thread and drop the utterances being heard."""
        if self._unsub_stop is not None:
            self._unsub_stop()
            self._unsub_stop = None
        self._stopped = True
        for utterance in self._utterances.values():
            if utterance.task is not None:
                utterance.task.cancel()
        self._utterances.clear()
        for task in list(self._tasks):
            task.cancel()
        if (client := self._client) is not None:
            self._client = None
            client.disconnect()
            await self.hass.async_add_executor_job(client.loop_stop)
        self._set_connected(False)

    # -- paho's thread: hand everything to the event loop -----------------------------------

    def _paho_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if getattr(reason, "is_failure", False):
            _LOGGER.debug("The robot's broker refused the connection: %s", reason)
            self._call(self._connect_failed)
            return
        client.subscribe(
            [
                (self.topics.events_zmq, 0),
                (self.topics.events_remote_chat, 1),
                (self.topics.events, 0),
                (self.topics.state, 0),
                (BROKER_LOG, 0),
            ]
        )
        self._call(self._on_connected)

    def _paho_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self._call(self._connect_failed)

    def _paho_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self._call(self._set_connected, False)

    def _paho_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        self._call(self._on_message, msg.topic, bytes(msg.payload))

    def _call(self, func: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self.hass.loop.call_soon_threadsafe(func, *args)

    # -- the event loop -----------------------------------------------------------------------

    @callback
    def _on_connected(self) -> None:
        if self._stopped:
            return
        _LOGGER.info(
            "Connected to the robot's broker %s:%s for %s",
            self.settings.host,
            self.settings.port,
            self.settings.device_id,
        )
        self.connect_failures = 0
        # The robot may have reconnected too (a broker restart): its next event asks again.
        self._last_seen = None
        self._set_connected(True)
        self.subscribe_microphone()

    @callback
    def _connect_failed(self) -> None:
        """Log the first failure of a series (paho retries, up to every 30 s)."""
        self.connect_failures += 1
        if self.connect_failures == 1:
            _LOGGER.warning(
                "Cannot reach the robot's broker %s:%s (TLS %s); retrying",
                self.settings.host,
                self.settings.port,
                "on" if self.settings.tls else "off",
            )

    @callback
    def _set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            if not connected:
                _LOGGER.info("Disconnected from the robot's broker")
            self._connection_changed(connected)

    @callback
    def subscribe_microphone(self) -> None:
        """Ask the robot to stream its microphone (ProtoSubscribe of zmqSTTRequest)."""
        self.publish_zmq(PROTO_SUBSCRIBE, encode_proto_subscribe([STT_REQUEST]))

    @callback
    def publish_zmq(self, name: str, body: bytes) -> None:
        """Publish a protobuf frame on `commands/zmq`."""
        self._publish(self.topics.command("zmq"), frame(name, body))

    @callback
    def publish_command(self, command: str, data: Mapping[str, Any]) -> None:
        """Publish a JSON command on `commands/<command>`."""
        self._publish(self.topics.command(command), json.dumps(data).encode())

    def _publish(self, topic: str, payload: bytes) -> None:
        if self._client is None:
            return
        info = self._client.publish(topic, payload, qos=1)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            # Queued by paho while disconnected; it is sent once the broker is back.
            _LOGGER.debug("Publish on %s queued (%s)", topic, info.rc)

    def _reject(self, reason: str, detail: str) -> None:
        self.rejected[reason] += 1
        # A warning the first time for each reason; a flood of the same stays out of the log.
        _LOGGER.log(
            logging.WARNING if self.rejected[reason] == 1 else logging.DEBUG,
            "Rejected a message from the robot (%s, %d so far; counted in diagnostics): %s",
            reason,
            self.rejected[reason],
            detail,
        )

    @callback
    def _on_message(self, topic: str, payload: bytes) -> None:
        if self._stopped:
            return
        if topic.startswith("$SYS/"):
            self._on_broker_log(payload)
            return
        self._robot_seen()
        if topic == self.topics.events_zmq:
            self._on_zmq(payload)
        elif topic == self.topics.events_remote_chat:
            self._on_remote_chat(payload)

    @callback
    def _robot_seen(self) -> None:
        """Note the robot is there: after a silence (or the first time), ask for its mic."""
        now = time.monotonic()
        if self._last_seen is None or now - self._last_seen > RESUBSCRIBE_AFTER:
            self.subscribe_microphone()
        self._last_seen = now

    @callback
    def _on_broker_log(self, payload: bytes) -> None:
        line = payload.decode(errors="replace")
        if "connected from" in line and f" as {self.settings.device_id}" in line:
            # The robot (re)connected: it is ready for our request a moment later.
            self.hass.loop.call_later(1.0, self.subscribe_microphone)

    # -- hearing ------------------------------------------------------------------------------

    @callback
    def _on_zmq(self, payload: bytes) -> None:
        try:
            name, body = unframe(payload)
            if name != STT_REQUEST:
                # The robot sends only what was subscribed; anything else is not ours.
                self._reject("unknown_proto", name)
                return
            request = decode_stt_request(body)
        except RobotProtocolError as err:
            self._reject(err.reason, str(err))
            return
        uid = request.uuid
        if uid in self._finished:
            self.rejected["late_frame"] += 1
            _LOGGER.debug("Frame of finished utterance %s dropped", uid)
            return
        utterance = self._utterances.get(uid)
        if utterance is None:
            utterance = self._open(uid, request.timestamp)
        utterance.last_timestamp = request.timestamp or utterance.last_timestamp
        if utterance.ended:
            self.rejected["late_frame"] += 1
            return
        if utterance.answered:  # the transcriber gave up early: the rest is not heard
            if request.vad == VAD_END:
                self._end(utterance)
            return
        if request.audio:
            utterance.size += len(request.audio)
            if utterance.size > MAX_UTTERANCE_SECONDS * AUDIO_RATE * AUDIO_WIDTH:
                self._reject("too_long", f"utterance {uid} over {MAX_UTTERANCE_SECONDS} s")
                self._end(utterance)
                return
            utterance.queue.put_nowait(request.audio)
        if request.vad == VAD_END:
            self._end(utterance)

    @callback
    def _open(self, uid: str, timestamp: int) -> _Utterance:
        while len(self._utterances) >= MAX_OPEN_UTTERANCES:
            oldest = next(iter(self._utterances.values()))
            self._reject("too_many", f"utterance {oldest.uuid} dropped")
            self._forget(oldest)
            if oldest.task is not None:
                oldest.task.cancel()
        utterance = _Utterance(uid, first_timestamp=timestamp, last_timestamp=timestamp)
        self._utterances[uid] = utterance
        self._utterance_started(uid)
        utterance.task = self.hass.async_create_background_task(
            self._async_hear(utterance), f"moxie robot utterance {uid}"
        )
        return utterance

    @callback
    def _end(self, utterance: _Utterance) -> None:
        if not utterance.ended:
            utterance.ended = True
            utterance.queue.put_nowait(None)
        if utterance.answered or utterance.task is None or utterance.task.done():
            self._forget(utterance)

    @callback
    def _forget(self, utterance: _Utterance) -> None:
        if self._utterances.get(utterance.uuid) is utterance:
            del self._utterances[utterance.uuid]
            self._finished.append(utterance.uuid)
            del self._finished[:-FINISHED_REMEMBERED]

    async def _stream(self, utterance: _Utterance) -> AsyncIterator[bytes]:
        """Yield the utterance's audio as it arrives, until its end (or frames stop coming)."""
        while True:
            try:
                async with asyncio.timeout(FRAME_GAP_TIMEOUT):
                    chunk = await utterance.queue.get()
            except TimeoutError:
                self._reject("no_end_of_speech", f"utterance {utterance.uuid}")
                self._end(utterance)
                return
            if chunk is None:
                return
            yield chunk

    async def _async_hear(self, utterance: _Utterance) -> None:
        """Transcribe the utterance as it arrives; answer the robot with a FINAL response.

        A transcriber that fails before the end leaves the utterance open: its remaining
        frames are dropped quietly until END_OF_SPEECH (they are not a new utterance).
        """
        response = SttResponse(uuid=utterance.uuid, start_timestamp=utterance.first_timestamp)
        try:
            response.speech, response.language = await self._transcribe(self._stream(utterance))
        except asyncio.CancelledError:
            self._forget(utterance)
            raise
        except Exception as err:  # noqa: BLE001 - any failure is the robot's error 66
            _LOGGER.warning("Could not transcribe the robot's utterance: %s", err)
            response.error_code = STT_ERROR
            response.error_message = str(err) or type(err).__name__
        utterance.answered = True
        if utterance.ended:
            self._forget(utterance)
        self._utterance_ended(utterance.uuid)
        response.end_timestamp = utterance.last_timestamp
        self.publish_zmq(STT_RESPONSE, response.encode())
        self.handled["utterance" if not response.error_code else "utterance_failed"] += 1

    # -- the chat turn ------------------------------------------------------------------------

    @callback
    def _on_remote_chat(self, payload: bytes) -> None:
        try:
            request = parse_remote_chat(payload)
        except RobotProtocolError as err:
            self._reject(err.reason, str(err))
            return
        if request.is_query or request.backend != "router":
            # Data queries (which modules are remote) are OpenMoxie's to answer.
            self.handled["ignored_query"] += 1
            return
        if request.command == "notify":
            self.handled["notify"] += 1
            self._notify(request)
            return
        if not request.speech and request.command != "prompt":
            # (A reprompt: the person said nothing; the robot carries on by itself.)
            self.handled["ignored_without_speech"] += 1
            _LOGGER.debug("RemoteChatRequest %s without speech left alone", request.event_id)
            return
        task = self.hass.async_create_background_task(
            self._async_chat(request), f"moxie robot chat {request.event_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _async_chat(self, request: RemoteChatRequest) -> None:
        try:
            text = await self._chat(request)
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOGGER.exception("Moxie could not answer the robot")
            text = None
        if not text:
            self.handled["chat_unanswered"] += 1
            return
        self.publish_command("remote_chat", remote_chat_reply(request, text))
        self.handled["chat"] += 1

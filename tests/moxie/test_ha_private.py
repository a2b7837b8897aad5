"""Home Assistant's private members Moxie relies on (custom_components/moxie/ha_private.py).

Home Assistant may change them in any release. Each test fails naming the member and the Moxie
feature that needs it: first that the member is there with the signature Moxie calls, then, where
it is cheap, that it still does what Moxie needs, seen on a real satellite of another integration
(tests/moxie/kitchen_satellite.py) as a user sees it (its state).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
import inspect
from typing import Any, override

from homeassistant.components.assist_pipeline import (
    OPTION_PREFERRED,
    AssistPipelineSelect,
    PipelineEvent,
    PipelineEventType,
)
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnnouncement,
    AssistSatelliteEntity,
)
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.moxie.ha_private import (
    PipelineSelectFollowingPipelines,
    TextAnnouncements,
    cancel_satellite_run,
    keep_responding_after_run,
    satellite_announcing,
    satellite_pipeline_id,
    show_satellite_state,
)
from tests.moxie.kitchen_satellite import (
    KITCHEN_SATELLITE,
    KitchenPipelineSelect,
    KitchenSatellite,
    async_add_kitchen,
    kitchen_select,
)


def needed(member: str, feature: str) -> str:
    """The message of a failed check: what changed and what of Moxie breaks."""
    return (
        f"Home Assistant changed {member}, which {feature} needs: "
        "adapt custom_components/moxie/ha_private.py"
    )


# (class, member, parameters (None: an attribute), coroutine, the Moxie feature that needs it)
MEMBERS: list[tuple[type, str, list[str] | None, bool, str]] = [
    (
        AssistSatelliteEntity,
        "_set_state",
        ["self", "state"],
        False,
        "Moxie's satellite staying `responding` while its speaker says the answer",
    ),
    (
        AssistSatelliteEntity,
        "_run_has_tts",
        None,
        False,
        "Moxie's satellite staying `responding` after a run without TTS stage",
    ),
    (
        AssistSatelliteEntity,
        "_resolve_pipeline",
        ["self"],
        False,
        "Moxie's satellite's wake word stage and its choice of who says the answer",
    ),
    (
        AssistSatelliteEntity,
        "_cancel_running_pipeline",
        ["self"],
        True,
        "the barge-in of Moxie's satellite (the answer still streaming is dropped)",
    ),
    (
        AssistSatelliteEntity,
        "_is_announcing",
        None,
        False,
        "Moxie's satellite holding its wake word stage during an announcement",
    ),
    (
        AssistSatelliteEntity,
        "_resolve_announcement_media_id",
        ["self", "message", "media_id", "preannounce_media_id"],
        True,
        "Moxie's satellite announcing text without TTS audio (its speaker voices it)",
    ),
    (
        AssistPipelineSelect,
        "_pipelines_updated",
        ["self", "change_set"],
        True,
        "the pipeline select of Moxie's satellite taking Moxie's pipeline once created",
    ),
]


@pytest.mark.parametrize(
    ("owner", "member", "parameters", "coroutine", "feature"),
    MEMBERS,
    ids=[member for _, member, *_ in MEMBERS],
)
def test_member_is_there_as_moxie_calls_it(
    owner: type, member: str, parameters: list[str] | None, coroutine: bool, feature: str
) -> None:
    """Each private member exists, with the parameters Moxie passes."""
    name = f"{owner.__name__}.{member}"
    assert hasattr(owner, member), needed(name, feature) + " (it is gone)"
    value = inspect.getattr_static(owner, member)
    if parameters is None:
        assert isinstance(value, bool), needed(name, feature) + f" (now {value!r}, not a bool)"
        assert value is False, needed(name, feature) + " (its default is no longer False)"
        return
    assert callable(value), needed(name, feature) + " (no longer a method)"
    assert list(inspect.signature(value).parameters) == parameters, needed(name, feature) + (
        f" (its parameters are now {list(inspect.signature(value).parameters)})"
    )
    assert inspect.iscoroutinefunction(value) is coroutine, needed(name, feature) + (
        " (it is now a coroutine)" if not coroutine else " (it is no longer a coroutine)"
    )


class TextKitchenSatellite(TextAnnouncements, KitchenSatellite):
    """The kitchen satellite announcing text only, as Moxie's satellite does."""

    def __init__(self) -> None:
        """Record whether the satellite counted as announcing in each announcement."""
        super().__init__()
        self.announcing: list[bool] = []
        self.on_run_start: Callable[[AssistSatelliteEntity], None] | None = None

    @override
    async def async_resolve_text_announcement(
        self, message: str, media_id: str | None, preannounce_media_id: str | None = None
    ) -> AssistSatelliteAnnouncement:
        return AssistSatelliteAnnouncement(
            message=message,
            media_id="",
            original_media_id="",
            tts_token=None,
            media_id_source="tts",
        )

    @override
    async def async_announce(self, announcement: AssistSatelliteAnnouncement) -> None:
        self.announcing.append(satellite_announcing(self))
        await super().async_announce(announcement)

    @override
    def on_pipeline_event(self, event: PipelineEvent) -> None:
        super().on_pipeline_event(event)
        if event.type is PipelineEventType.RUN_START and self.on_run_start is not None:
            self.on_run_start(self)


class FollowingSelect(PipelineSelectFollowingPipelines, KitchenPipelineSelect):
    """The kitchen's pipeline select, counting the pipeline changes it is told about."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Count from 0."""
        super().__init__(hass)
        self.changes: list[list[str]] = []

    @override
    def async_pipelines_changed(self) -> None:
        self.changes.append(list(self.options))


@pytest.fixture
async def kitchen(hass: HomeAssistant) -> tuple[TextKitchenSatellite, FollowingSelect]:
    """Assist (with its default pipeline) and the kitchen satellite with Moxie's mixins."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "assist_pipeline", {})
    satellite, select = TextKitchenSatellite(), FollowingSelect(hass)
    await async_add_kitchen(hass, satellite, select)
    return satellite, select


async def create_pipeline(hass: HomeAssistant, hass_ws_client: WebSocketGenerator) -> str:
    """Create a pipeline `Kitchen` as Assist's settings page does; return its id."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "assist_pipeline/pipeline/create",
            "name": "Kitchen",
            "language": "en",
            "conversation_engine": "conversation.home_assistant",
            "conversation_language": "en",
            "stt_engine": None,
            "stt_language": None,
            "tts_engine": None,
            "tts_language": None,
            "tts_voice": None,
            "wake_word_entity": None,
            "wake_word_id": None,
        }
    )
    created = await client.receive_json()
    assert created["success"], created
    pipeline_id: str = created["result"]["id"]
    return pipeline_id


async def test_set_state_shows_the_state(
    hass: HomeAssistant, kitchen: tuple[TextKitchenSatellite, FollowingSelect]
) -> None:
    satellite, _ = kitchen
    for state in (AssistSatelliteState.RESPONDING, AssistSatelliteState.IDLE):
        show_satellite_state(satellite, state)
        shown = hass.states.get(KITCHEN_SATELLITE)
        assert shown is not None
        assert shown.state == state, (
            needed("AssistSatelliteEntity._set_state", MEMBERS[0][4])
            + f" (the satellite shows {shown.state}, not {state})"
        )


async def silence() -> AsyncIterator[bytes]:
    yield b"\0" * 3200


@pytest.mark.parametrize("keep", [True, False])
async def test_run_has_tts_keeps_responding_after_the_run(
    hass: HomeAssistant, kitchen: tuple[TextKitchenSatellite, FollowingSelect], keep: bool
) -> None:
    """A run (here: one that fails, there is no speech-to-text) ends idle unless kept."""
    satellite, _ = kitchen

    def respond(entity: AssistSatelliteEntity) -> None:
        show_satellite_state(entity, AssistSatelliteState.RESPONDING)
        if keep:
            keep_responding_after_run(entity)

    satellite.on_run_start = respond
    await satellite.async_accept_pipeline_from_satellite(silence())

    assert satellite.events[0].type is PipelineEventType.RUN_START
    assert satellite.events[-1].type is PipelineEventType.RUN_END
    shown = hass.states.get(KITCHEN_SATELLITE)
    assert shown is not None
    expected = AssistSatelliteState.RESPONDING if keep else AssistSatelliteState.IDLE
    assert shown.state == expected, needed("AssistSatelliteEntity._run_has_tts", MEMBERS[1][4])
    satellite.tts_response_finished()
    assert hass.states.get(KITCHEN_SATELLITE).state == AssistSatelliteState.IDLE  # type: ignore[union-attr]


async def test_resolve_pipeline_follows_the_select(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    kitchen: tuple[TextKitchenSatellite, FollowingSelect],
) -> None:
    satellite, _ = kitchen
    pipeline_id = await create_pipeline(hass, hass_ws_client)
    message = needed("AssistSatelliteEntity._resolve_pipeline", MEMBERS[2][4])
    assert satellite_pipeline_id(satellite) is None, message
    for option, expected in (("Kitchen", pipeline_id), (OPTION_PREFERRED, None)):
        await hass.services.async_call(
            "select",
            "select_option",
            {"entity_id": kitchen_select(hass), "option": option},
            blocking=True,
        )
        assert satellite_pipeline_id(satellite) == expected, message


async def test_cancel_running_pipeline_without_a_run(
    kitchen: tuple[TextKitchenSatellite, FollowingSelect],
) -> None:
    """Nothing runs: it returns at once (the barge-in itself is tested in test_satellite)."""
    satellite, _ = kitchen
    await cancel_satellite_run(satellite)


async def test_announce_takes_the_text_announcement_and_is_announcing(
    hass: HomeAssistant, kitchen: tuple[TextKitchenSatellite, FollowingSelect]
) -> None:
    """The announce action asks the satellite for its announcement; no TTS engine needed."""
    satellite, _ = kitchen
    await hass.services.async_call(
        "assist_satellite",
        "announce",
        {"entity_id": KITCHEN_SATELLITE, "message": "Dinner is ready", "preannounce": False},
        blocking=True,
    )
    [announcement] = satellite.announcements
    assert (announcement.message, announcement.media_id) == ("Dinner is ready", ""), needed(
        "AssistSatelliteEntity._resolve_announcement_media_id", MEMBERS[5][4]
    )
    assert satellite.announcing == [True], needed(
        "AssistSatelliteEntity._is_announcing", MEMBERS[4][4]
    )
    assert satellite_announcing(satellite) is False, needed(
        "AssistSatelliteEntity._is_announcing", MEMBERS[4][4]
    )


async def test_pipelines_updated_tells_the_select(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    kitchen: tuple[TextKitchenSatellite, FollowingSelect],
) -> None:
    """A new pipeline: the select hears of it with its options already updated."""
    _, select = kitchen
    await create_pipeline(hass, hass_ws_client)
    await hass.async_block_till_done()
    changes: list[Any] = select.changes
    assert changes, needed("AssistPipelineSelect._pipelines_updated", MEMBERS[6][4])
    assert "Kitchen" in changes[-1], needed(
        "AssistPipelineSelect._pipelines_updated", MEMBERS[6][4]
    )

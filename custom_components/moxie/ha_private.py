"""Every use Moxie makes of Home Assistant's private members, in one place.

Home Assistant may change any member whose name starts with `_` in any release, without a
deprecation. Moxie's voice satellite and its pipeline select need a few of them; each one is
used here only, through a small typed function or mixin named after what Moxie does with it.
tests/moxie/test_ha_private.py checks each one (it exists, its signature, what it does) and
fails naming the member and the Moxie feature that needs it when a release changes it.

(The config flows' `_get_reconfigure_entry`, `_abort_if_unique_id_configured` ... and the
entities' `_async_handle_message`, `_async_generate_data` and `_attr_*` are Home Assistant's
documented API for integrations, not private members.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, override

from homeassistant.components.assist_pipeline import AssistPipelineSelect
from homeassistant.components.assist_satellite import (
    AssistSatelliteAnnouncement,
    AssistSatelliteEntity,
)
from homeassistant.components.assist_satellite.entity import AssistSatelliteState
from homeassistant.core import callback
from homeassistant.exceptions import ServiceValidationError

from .const import DOMAIN

# -- AssistSatelliteEntity: Moxie's voice satellite ----------------------------------------------


@callback
def show_satellite_state(satellite: AssistSatelliteEntity, state: AssistSatelliteState) -> None:
    """Show state on satellite now (`AssistSatelliteEntity._set_state`).

    Moxie's satellite turns `responding` when its run ends with an answer Moxie's speaker is
    still to say (Home Assistant only does so when the pipeline makes TTS audio).
    """
    satellite._set_state(state)  # noqa: SLF001


@callback
def keep_responding_after_run(satellite: AssistSatelliteEntity) -> None:
    """Keep satellite from turning idle at its run's end (`AssistSatelliteEntity._run_has_tts`).

    Moxie's runs end with the intent stage (no TTS stage): the answer is still to be said by
    Moxie's speaker, and `tts_response_finished` ends `responding` once it has been heard.
    """
    satellite._run_has_tts = True  # noqa: SLF001


@callback
def satellite_pipeline_id(satellite: AssistSatelliteEntity) -> str | None:
    """Return the pipeline of satellite's next run, None for the preferred one.

    (`AssistSatelliteEntity._resolve_pipeline`.) Moxie's satellite reads it to know whether its
    pipeline has a wake word engine and whether a Moxie agent answers (it mirrors itself).
    Raises RuntimeError when the satellite's pipeline select is gone.
    """
    return satellite._resolve_pipeline()  # noqa: SLF001


async def cancel_satellite_run(satellite: AssistSatelliteEntity) -> None:
    """Cancel satellite's running pipeline and wait for it to end.

    (`AssistSatelliteEntity._cancel_running_pipeline`.) A barge-in drops the answer still
    streaming before the new question is heard.
    """
    await satellite._cancel_running_pipeline()  # noqa: SLF001


@callback
def satellite_announcing(satellite: AssistSatelliteEntity) -> bool:
    """Whether satellite is making an announcement (`AssistSatelliteEntity._is_announcing`).

    Moxie's wake word stage does not start while an announcement is being said.
    """
    return bool(satellite._is_announcing)  # noqa: SLF001


class TextAnnouncements(AssistSatelliteEntity):
    """A satellite that announces text: Home Assistant makes no TTS audio for its announcements.

    The announce, start_conversation and ask_question actions resolve the announcement's media
    (synthesizing the message with the pipeline's TTS) in
    `AssistSatelliteEntity._resolve_announcement_media_id` before calling the satellite;
    Moxie's speaker voices the text itself, so the satellite resolves it in
    `async_resolve_text_announcement` instead.
    """

    async def async_resolve_text_announcement(
        self,
        message: str,
        media_id: str | None,
        preannounce_media_id: str | None = None,
    ) -> AssistSatelliteAnnouncement:
        """Keep the text only: whoever says it has its own voice, so no audio is made here.

        (Home Assistant would otherwise have the pipeline's TTS make audio nobody plays.)
        Media and the pre-announcement sound cannot be played: media alone is refused.
        """
        if media_id and not message:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="satellite_text_only"
            )
        return AssistSatelliteAnnouncement(
            message=message,
            media_id="",
            original_media_id="",
            tts_token=None,
            media_id_source="tts",
        )

    @override
    async def _resolve_announcement_media_id(
        self,
        message: str,
        media_id: str | None,
        preannounce_media_id: str | None = None,
    ) -> AssistSatelliteAnnouncement:
        return await self.async_resolve_text_announcement(message, media_id, preannounce_media_id)


# -- AssistPipelineSelect: the pipeline select of Moxie's satellite ------------------------------


class PipelineSelectFollowingPipelines(AssistPipelineSelect):
    """A pipeline select told when pipelines are created, renamed or deleted.

    (`AssistPipelineSelect._pipelines_updated`, its listener on the pipeline store.) Moxie's
    select takes Moxie's pipeline once it exists, and tells the satellite when its pipeline
    changed (its wake word stage follows the pipeline).
    """

    @callback
    def async_pipelines_changed(self) -> None:
        """Run after the select's options follow the change (to be extended)."""

    @override
    async def _pipelines_updated(self, change_set: Iterable[Any]) -> None:
        await super()._pipelines_updated(change_set)
        self.async_pipelines_changed()

"""Moxie's Assist pipeline: created from the entry, kept, repaired and removed with it.

This is the only module that touches assist_pipeline's internals: its pipeline store (create,
find, preferred), which changes between Home Assistant releases. (The pipeline select of
Moxie's satellite is assist_pipeline's public select entity; the runs of Moxie's pipeline are
followed through public signals only: Moxie's own satellite reports its pipeline events, other
integrations' satellites are followed through their states in satellite_runs.py.)

Modeled on Home Assistant Cloud's pipeline (components/cloud/assist_pipeline.py): the pipeline
id is remembered in the entry, a matching pipeline is reused instead of duplicated, the user's
edits are never overwritten, and a pipeline the user deleted becomes a fixable repair issue.
"""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any, TypedDict

from homeassistant.components import stt, tts
from homeassistant.components.assist_pipeline import (
    DOMAIN as ASSIST_PIPELINE_DOMAIN,
    OPTION_PREFERRED,
    Pipeline,
    PipelineNotFound,
    async_get_pipeline,
    async_get_pipelines,
    async_update_pipeline,
)
from homeassistant.components.assist_pipeline.pipeline import (
    KEY_ASSIST_PIPELINE,
    PipelineStorageCollection,
    async_setup_pipeline_store,
)
from homeassistant.components.conversation import HOME_ASSISTANT_AGENT
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.collection import CHANGE_REMOVED
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import language as language_util

from .const import CONF_LANGUAGE, DEFAULT_LANGUAGE, DOMAIN, SUBENTRY_AGENT
from .satellite_runs import RunPhaseListener, SatelliteRuns

_LOGGER = logging.getLogger(__name__)

# Entry data: the pipeline settings chosen in the config flow (see PipelineSettings).
CONF_PIPELINE = "pipeline"
WYOMING = "wyoming"
# The name moxie-tts gives its TTS program (wyoming_servers/voice).
MOXIE_TTS = "moxie-tts"


class PipelineSettings(TypedDict, total=False):
    """What the entry remembers about its pipeline."""

    stt_engine: str
    tts_engine: str
    tts_voice: str | None
    # Make it the preferred pipeline when it is created (opt-in).
    preferred: bool
    # The pipeline's id once created (or reused).
    id: str | None
    # The pipeline that was preferred before Moxie's, handed back when the entry is removed.
    previous_preferred: str | None


def pipeline_signal(entry_id: str) -> str:
    """Return the dispatcher signal sent when Moxie's pipeline becomes known or is deleted."""
    return f"{DOMAIN}_pipeline_{entry_id}"


@callback
def moxie_pipeline_id(hass: HomeAssistant, entry: ConfigEntry) -> str | None:
    """Return the id of the entry's pipeline while it exists."""
    store = async_pipeline_store(hass)
    settings: Mapping[str, Any] | None = entry.data.get(CONF_PIPELINE)
    if store is None or not settings or (pid := settings.get("id")) is None:
        return None
    return pid if pid in store.data else None


def issue_id(entry_id: str) -> str:
    """Return the id of the repair issue raised when the user deleted Moxie's pipeline."""
    return f"pipeline_deleted_{entry_id}"


@callback
def wyoming_engines(hass: HomeAssistant, domain: str, language: str) -> list[str]:
    """Return the STT or TTS entity ids of Wyoming, those that support language first."""
    registry = er.async_get(hass)
    entity_ids = [
        entity.entity_id
        for entity in registry.entities.values()
        if entity.domain == domain and entity.platform == WYOMING and not entity.disabled
    ]
    return sorted(entity_ids, key=lambda eid: engine_language(hass, domain, eid, language) is None)


@callback
def engine_language(hass: HomeAssistant, domain: str, entity_id: str, language: str) -> str | None:
    """Return the engine's best language for language, or None when it has none (or is gone)."""
    engine: stt.SpeechToTextEntity | tts.TextToSpeechEntity | tts.Provider | None
    if domain == stt.DOMAIN:
        engine = stt.async_get_speech_to_text_entity(hass, entity_id)
    else:
        engine = tts.get_engine_instance(hass, entity_id)
    if engine is None:
        return None
    found = language_util.matches(language, engine.supported_languages, hass.config.country)
    return found[0] if found else None


@callback
def fallback_language(hass: HomeAssistant, domain: str, entity_id: str) -> str | None:
    """Return a language the engine has, for a Moxie language it lacks (None: it has none).

    Text-to-speech: its default language, else its first language, with voices first (the
    pipeline then speaks with a voice that exists). Speech-to-text: the language of Home
    Assistant when the engine has it, else its first language.
    """
    engine: stt.SpeechToTextEntity | tts.TextToSpeechEntity | tts.Provider | None
    if domain == stt.DOMAIN:
        engine = stt.async_get_speech_to_text_entity(hass, entity_id)
    else:
        engine = tts.get_engine_instance(hass, entity_id)
    if engine is None or not (languages := list(engine.supported_languages or [])):
        return None
    if isinstance(engine, stt.SpeechToTextEntity):
        found = language_util.matches(hass.config.language, languages, hass.config.country)
        return found[0] if found else languages[0]
    default = engine.default_language
    candidates = [default, *languages] if default in languages else languages
    return next(
        (lang for lang in candidates if engine.async_get_supported_voices(lang)), candidates[0]
    )


@callback
def pipeline_language(
    hass: HomeAssistant, domain: str, entity_id: str, language: str
) -> str | None:
    """Return the language the pipeline uses on the engine: language's best, else a fallback."""
    return engine_language(hass, domain, entity_id, language) or fallback_language(
        hass, domain, entity_id
    )


@callback
def tts_voices(hass: HomeAssistant, entity_id: str, language: str) -> list[tts.Voice]:
    """Return the voices the TTS entity offers for language (empty when unknown).

    When it has no voice in language, those of the language it speaks instead
    (fallback_language).
    """
    engine = tts.get_engine_instance(hass, entity_id)
    tts_language = pipeline_language(hass, tts.DOMAIN, entity_id, language)
    if engine is None or tts_language is None:
        return []
    return list(engine.async_get_supported_voices(tts_language) or [])


@callback
def installed_voices(hass: HomeAssistant, entity_id: str, language: str) -> list[str]:
    """Return the voices offered for language that the server surely has on disk.

    Home Assistant lists only the voices a Wyoming server reports `installed`, but
    wyoming-piper reports its whole catalog so, although offline it only has the voices in its
    data directory (it would try to download any other). Sure to be there: a voice of
    moxie-tts (it lists only the voices it loaded), the only voice a server offers, and a
    voice wyoming-piper found in its data directory that is not in its catalog (it carries no
    attribution). A catalog voice on disk cannot be told from one the server lacks.
    """
    offered = {voice.voice_id for voice in tts_voices(hass, entity_id, language)}
    if len(offered) == 1:
        return list(offered)
    return [name for name in _wyoming_local_voices(hass, entity_id) if name in offered]


@callback
def default_voice(hass: HomeAssistant, entity_id: str, language: str) -> str | None:
    """Return a voice the server surely has, or None for the server's own default voice.

    Without an installed voice the server's default voice (the one it was started with, which
    it checked at start-up) is kept by leaving the voice unset.
    """
    return next(iter(installed_voices(hass, entity_id, language)), None)


@callback
def _wyoming_local_voices(hass: HomeAssistant, entity_id: str) -> list[str]:
    """Return the Wyoming TTS voices on the server's disk (read from the server's info)."""
    entity = er.async_get(hass).async_get(entity_id)
    if entity is None or entity.config_entry_id is None:
        return []
    wyoming_entry = hass.config_entries.async_get_entry(entity.config_entry_id)
    service = getattr(getattr(wyoming_entry, "runtime_data", None), "service", None)
    info = getattr(service, "info", None)
    names: list[str] = []
    for program in getattr(info, "tts", None) or []:
        for voice in program.voices:
            attribution = getattr(voice, "attribution", None)
            if program.name == MOXIE_TTS or (attribution is not None and not attribution.name):
                names.append(voice.name)
    return names


@callback
def agent_entity_id(hass: HomeAssistant, entry: ConfigEntry) -> str | None:
    """Return the conversation entity of the entry's first agent subentry."""
    subentry_id = next(
        (s.subentry_id for s in entry.subentries.values() if s.subentry_type == SUBENTRY_AGENT),
        None,
    )
    if subentry_id is None:
        return None
    for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        if entity.domain != "conversation":
            continue
        if entity.config_subentry_id == subentry_id or entity.unique_id.endswith(subentry_id):
            return entity.entity_id
    return None


@callback
def async_pipeline_store(hass: HomeAssistant) -> PipelineStorageCollection | None:
    """Return the pipeline store, or None when assist_pipeline is not loaded."""
    if ASSIST_PIPELINE_DOMAIN not in hass.config.components or KEY_ASSIST_PIPELINE not in hass.data:
        return None
    return hass.data[KEY_ASSIST_PIPELINE].pipeline_store


class MoxiePipeline:
    """Keeps the entry's Assist pipeline; reports its runs on other integrations' satellites."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, on_run_phase: RunPhaseListener
    ) -> None:
        """Prepare; call async_start once the entry's agent entity exists."""
        self.hass = hass
        self.entry = entry
        self._on_run_phase = on_run_phase
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._satellite_runs: SatelliteRuns | None = None

    @property
    def settings(self) -> PipelineSettings | None:
        """The entry's pipeline settings, None when the user chose no pipeline."""
        settings: Mapping[str, Any] | None = self.entry.data.get(CONF_PIPELINE)
        return PipelineSettings(**settings) if settings else None  # type: ignore[typeddict-item]

    @property
    def pipeline_id(self) -> str | None:
        """The id of Moxie's pipeline while it exists."""
        return moxie_pipeline_id(self.hass, self.entry)

    async def async_start(self) -> None:
        """Create (or find) the pipeline, or raise the repair issue when it was deleted."""
        if (settings := self.settings) is None:
            return
        if ASSIST_PIPELINE_DOMAIN not in self.hass.config.components:
            _LOGGER.warning("Assist pipeline is not loaded: Moxie's pipeline is not created")
            return
        store = (await async_setup_pipeline_store(self.hass)).pipeline_store
        self._follow_store(store)
        if (pid := settings.get("id")) is None:
            await self._async_create(settings)
        elif pid in store.data:
            self._watch(pid)
        else:
            self._async_raise_deleted()

    @callback
    def _follow_store(self, store: PipelineStorageCollection) -> None:
        """Listen for the deletion of Moxie's pipeline (once)."""
        if not self._unsubscribe:
            self._unsubscribe.append(store.async_add_listener(self._async_store_changed))

    @callback
    def async_stop(self) -> None:
        """Stop following the store and the runs."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self._unwatch()

    async def async_apply(self, settings: PipelineSettings) -> None:
        """Use new engines and voice (options step): update Moxie's pipeline or create it."""
        current = self.settings or PipelineSettings()
        new = PipelineSettings(**(current | settings))
        store = async_pipeline_store(self.hass)
        if store is not None and (pid := self.pipeline_id) is not None:
            await async_update_pipeline(self.hass, store.data[pid], **self._fields(new))
            if new.get("preferred") and store.async_get_preferred_item() != pid:
                self._make_preferred(store, pid, new)
            self._save(new)
            return
        new["id"] = None
        await self._async_create(new)

    async def async_recreate(self) -> None:
        """Create the pipeline again (the repair issue's fix)."""
        settings = self.settings
        if settings is None:
            return
        settings["id"] = None
        await self._async_create(settings)

    def _fields(self, settings: PipelineSettings) -> dict[str, Any]:
        """Return the pipeline fields Moxie chooses (the rest is the user's)."""
        language = self.entry.data.get(CONF_LANGUAGE, DEFAULT_LANGUAGE)
        stt_engine = settings["stt_engine"]
        tts_engine = settings["tts_engine"]
        return {
            "language": language,
            "stt_engine": stt_engine,
            "stt_language": pipeline_language(self.hass, stt.DOMAIN, stt_engine, language)
            or language,
            "tts_engine": tts_engine,
            "tts_language": pipeline_language(self.hass, tts.DOMAIN, tts_engine, language)
            or language,
            "tts_voice": settings.get("tts_voice"),
        }

    async def _async_create(self, settings: PipelineSettings) -> None:
        """Reuse a pipeline that already matches, or create one; remember its id."""
        if ASSIST_PIPELINE_DOMAIN not in self.hass.config.components:
            return
        store = (await async_setup_pipeline_store(self.hass)).pipeline_store
        self._follow_store(store)
        agent = agent_entity_id(self.hass, self.entry)
        if agent is None:
            _LOGGER.warning("%s has no agent yet: its pipeline is not created", self.entry.title)
            return
        fields = self._fields(settings)
        pipeline = next(
            (p for p in async_get_pipelines(self.hass) if _matches(p, agent, fields)), None
        )
        if pipeline is None:
            pipeline = await store.async_create_item(
                {
                    "name": self.entry.title,
                    "conversation_engine": agent,
                    "conversation_language": fields["language"],
                    "wake_word_entity": None,
                    "wake_word_id": None,
                }
                | fields
            )
            _LOGGER.info("Created the Assist pipeline %s (%s)", pipeline.name, pipeline.id)
        settings["id"] = pipeline.id
        if settings.get("preferred") and store.async_get_preferred_item() != pipeline.id:
            self._make_preferred(store, pipeline.id, settings)
        self._save(settings)
        ir.async_delete_issue(self.hass, DOMAIN, issue_id(self.entry.entry_id))
        self._watch(pipeline.id)

    @callback
    def _make_preferred(
        self, store: PipelineStorageCollection, pipeline_id: str, settings: PipelineSettings
    ) -> None:
        settings["previous_preferred"] = store.async_get_preferred_item()
        store.async_set_preferred_item(pipeline_id)

    @callback
    def _save(self, settings: PipelineSettings) -> None:
        self.hass.config_entries.async_update_entry(
            self.entry, data={**self.entry.data, CONF_PIPELINE: dict(settings)}
        )

    async def _async_store_changed(self, change_type: str, item_id: str, change: Any) -> None:
        """Raise the repair issue when the user deletes Moxie's pipeline."""
        settings = self.settings
        if change_type == CHANGE_REMOVED and settings and settings.get("id") == item_id:
            self._unwatch()
            self._async_raise_deleted()

    @callback
    def _async_raise_deleted(self) -> None:
        _LOGGER.info("The Assist pipeline of %s was deleted", self.entry.title)
        async_dispatcher_send(self.hass, pipeline_signal(self.entry.entry_id))
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id(self.entry.entry_id),
            is_fixable=True,
            severity=ir.IssueSeverity.WARNING,
            translation_key="pipeline_deleted",
            translation_placeholders={"name": self.entry.title},
            data={"entry_id": self.entry.entry_id, "kind": "pipeline_deleted"},
        )

    @callback
    def _watch(self, pipeline_id: str) -> None:
        """Follow the runs of Moxie's pipeline on other integrations' satellites.

        Its id is known now (found, created or adopted): the satellite's select may take it.
        """
        async_dispatcher_send(self.hass, pipeline_signal(self.entry.entry_id))
        self._unwatch()
        self._satellite_runs = SatelliteRuns(
            self.hass, self._runs_moxie_pipeline, self._on_run_phase
        )
        self._satellite_runs.async_start()

    @callback
    def _unwatch(self) -> None:
        if self._satellite_runs is not None:
            self._satellite_runs.async_stop()
            self._satellite_runs = None

    @callback
    def _runs_moxie_pipeline(self, option: str | None) -> bool:
        """Whether a satellite whose pipeline select shows option runs Moxie's pipeline.

        As a satellite resolves it: the pipeline of that name, else the preferred pipeline
        (`preferred`, no select, or a name no pipeline has).
        """
        if (pipeline_id := self.pipeline_id) is None:
            return False
        if option is not None and option != OPTION_PREFERRED:
            named = next((p.id for p in async_get_pipelines(self.hass) if p.name == option), None)
            if named is not None:
                return named == pipeline_id
        try:
            return async_get_pipeline(self.hass).id == pipeline_id
        except PipelineNotFound:
            return False


def _matches(pipeline: Pipeline, agent: str, fields: dict[str, Any]) -> bool:
    """Whether pipeline already is Moxie's: same agent, language and engines."""
    return (
        pipeline.conversation_engine == agent
        and pipeline.language == fields["language"]
        and pipeline.stt_engine == fields["stt_engine"]
        and pipeline.tts_engine == fields["tts_engine"]
    )


async def async_remove_pipeline(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete Moxie's pipeline (entry removed); hand "preferred" back first."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(entry.entry_id))
    settings: Mapping[str, Any] | None = entry.data.get(CONF_PIPELINE)
    store = async_pipeline_store(hass)
    if not settings or store is None or (pid := settings.get("id")) not in store.data:
        return
    if store.async_get_preferred_item() == pid:
        others = [p for p in async_get_pipelines(hass) if p.id != pid]
        previous = settings.get("previous_preferred")
        fallback = next(
            (p.id for p in others if p.id == previous),
            next(
                (p.id for p in others if p.conversation_engine == HOME_ASSISTANT_AGENT),
                others[0].id if others else None,
            ),
        )
        if fallback is None:
            _LOGGER.warning("Moxie's pipeline is the only one: it is kept as the preferred one")
            return
        store.async_set_preferred_item(fallback)
    await store.async_delete_item(pid)
    _LOGGER.info("Deleted the Assist pipeline of %s", entry.title)

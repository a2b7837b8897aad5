"""The pipeline step: Wyoming speech-to-text and text-to-speech for Moxie's Assist pipeline.

One step, shown in the config flow after the brain step and in Moxie's options (Configure >
Moxie's Assist pipeline) to create or change the pipeline later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowHandler, FlowResultType
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio as vol

from .pipeline import (
    PipelineSettings,
    default_voice,
    engine_language,
    installed_voices,
    pipeline_language,
    tts_voices,
    wyoming_engines,
)

CONF_CREATE = "create_pipeline"
CONF_STT = "stt_engine"
CONF_TTS = "tts_engine"
CONF_VOICE = "tts_voice"
CONF_PREFERRED = "preferred"
# Marks the voices the TTS server surely has (the others it may lack, or download).
INSTALLED_MARK = "✓ instalada · installed"
# The note after the flow when a speech service lacks Moxie's language (create_entry).
LANGUAGE_FALLBACK = "pipeline_language_fallback"


@callback
def engines_available(hass: HomeAssistant) -> bool:
    """Whether Wyoming offers both a speech-to-text and a text-to-speech entity."""
    return bool(wyoming_engines(hass, "stt", "*") and wyoming_engines(hass, "tts", "*"))


def _engine_options(hass: HomeAssistant, domain: str, language: str) -> list[SelectOptionDict]:
    options = []
    for entity_id in wyoming_engines(hass, domain, language):
        state = hass.states.get(entity_id)
        name = state.name if state else entity_id
        options.append(SelectOptionDict(value=entity_id, label=f"{name} ({entity_id})"))
    return options


@callback
def _voice_options(hass: HomeAssistant, tts_engine: str, language: str) -> list[SelectOptionDict]:
    """Return the voices of tts_engine for language, those surely installed first, marked."""
    installed = set(installed_voices(hass, tts_engine, language))
    voices = sorted(
        tts_voices(hass, tts_engine, language), key=lambda voice: voice.voice_id not in installed
    )
    return [
        SelectOptionDict(
            value=voice.voice_id,
            label=f"{voice.name} {INSTALLED_MARK}" if voice.voice_id in installed else voice.name,
        )
        for voice in voices
    ]


@callback
def pipeline_schema(
    hass: HomeAssistant,
    language: str,
    current: dict[str, Any] | None,
    *,
    ask_create: bool,
) -> vol.Schema:
    """Return the form: engines (those that speak language first), voice, preferred."""
    current = current or {}
    stt_options = _engine_options(hass, "stt", language)
    tts_options = _engine_options(hass, "tts", language)
    stt_default = current.get(CONF_STT) or stt_options[0]["value"]
    tts_default = current.get(CONF_TTS) or tts_options[0]["value"]
    voice_default = current.get(CONF_VOICE) or _fallback_voice(hass, tts_default, language)
    voices = _voice_options(hass, tts_default, language)
    schema: dict[Any, Any] = {}
    if ask_create:
        schema[vol.Required(CONF_CREATE, default=current.get(CONF_CREATE, True))] = (
            BooleanSelector()
        )
    schema |= {
        vol.Required(CONF_STT, default=stt_default): SelectSelector(
            SelectSelectorConfig(options=stt_options, mode=SelectSelectorMode.DROPDOWN)
        ),
        vol.Required(CONF_TTS, default=tts_default): SelectSelector(
            SelectSelectorConfig(options=tts_options, mode=SelectSelectorMode.DROPDOWN)
        ),
        vol.Optional(CONF_VOICE, description={"suggested_value": voice_default}): SelectSelector(
            SelectSelectorConfig(
                options=voices, custom_value=True, mode=SelectSelectorMode.DROPDOWN
            )
        ),
        vol.Required(CONF_PREFERRED, default=current.get(CONF_PREFERRED, False)): (
            BooleanSelector()
        ),
    }
    return vol.Schema(schema)


@callback
def validate_pipeline(
    hass: HomeAssistant, language: str, user_input: dict[str, Any]
) -> tuple[PipelineSettings | None, dict[str, str]]:
    """Return the settings chosen (None: no pipeline) and the form's errors."""
    if not user_input.get(CONF_CREATE, True):
        return None, {}
    errors: dict[str, str] = {}
    stt_engine = str(user_input[CONF_STT])
    tts_engine = str(user_input[CONF_TTS])
    # A service without Moxie's language is used in one it has (language_fallback says so).
    if pipeline_language(hass, "stt", stt_engine, language) is None:
        errors[CONF_STT] = "language_unsupported"
    if pipeline_language(hass, "tts", tts_engine, language) is None:
        errors[CONF_TTS] = "language_unsupported"
    voice = str(user_input.get(CONF_VOICE) or "").strip() or None
    if (
        voice is None
        and CONF_TTS not in errors
        and engine_language(hass, "tts", tts_engine, language) is None
    ):
        voice = _fallback_voice(hass, tts_engine, language)
    if (
        voice is not None
        and CONF_TTS not in errors
        and voice not in {v.voice_id for v in tts_voices(hass, tts_engine, language)}
    ):
        errors[CONF_VOICE] = "invalid_voice"
    settings = PipelineSettings(
        stt_engine=stt_engine,
        tts_engine=tts_engine,
        tts_voice=voice,
        preferred=bool(user_input.get(CONF_PREFERRED, False)),
    )
    return settings, errors


@callback
def _fallback_voice(hass: HomeAssistant, tts_engine: str, language: str) -> str | None:
    """Return default_voice; without language on the engine, a voice it has in another one."""
    voice = default_voice(hass, tts_engine, language)
    if voice is None and engine_language(hass, "tts", tts_engine, language) is None:
        voice = next((v.voice_id for v in tts_voices(hass, tts_engine, language)), None)
    return voice


@callback
def language_fallback(
    hass: HomeAssistant, language: str, settings: PipelineSettings
) -> dict[str, str] | None:
    """Return the note's placeholders when a service lacks Moxie's language, else None."""
    stt_engine, tts_engine = settings["stt_engine"], settings["tts_engine"]
    if (
        engine_language(hass, "stt", stt_engine, language) is not None
        and engine_language(hass, "tts", tts_engine, language) is not None
    ):
        return None
    voice_id = settings.get("tts_voice")
    voice_name = next(
        (v.name for v in tts_voices(hass, tts_engine, language) if v.voice_id == voice_id),
        voice_id or tts_engine,
    )
    return {
        "language": language,
        "voice": voice_name,
        "tts_language": pipeline_language(hass, "tts", tts_engine, language) or language,
        "stt_language": pipeline_language(hass, "stt", stt_engine, language) or language,
    }


type SavePipeline = Callable[[PipelineSettings | None], Awaitable[ConfigFlowResult]]


async def async_pipeline_step(
    flow: FlowHandler[Any, ConfigFlowResult, str],
    language: str,
    current: Mapping[str, Any],
    user_input: dict[str, Any] | None,
    save: SavePipeline,
    *,
    ask_create: bool,
) -> ConfigFlowResult:
    """Run the pipeline step (`pipeline`), one for the setup and for Moxie's options.

    Shows the engines (those that speak language first), the voice and "preferred"; hands the
    valid choice to save (None: the user declined, only offered with ask_create). Without Wyoming
    speech services there is nothing to choose: it aborts with `no_wyoming`, which says so.

    A service that lacks Moxie's language is still used, in a language it has (a voice that
    exists): the flow then ends with the note `pipeline_language_fallback`, which names the
    voice and language Moxie uses until one in its language is installed, and how to get it.
    """
    if not engines_available(flow.hass):
        return flow.async_abort(reason="no_wyoming")
    errors: dict[str, str] = {}
    if user_input is not None:
        settings, errors = validate_pipeline(flow.hass, language, user_input)
        if not errors:
            note = language_fallback(flow.hass, language, settings) if settings else None
            result = await save(settings)
            if note is not None and result.get("type") is FlowResultType.CREATE_ENTRY:
                result["description"] = LANGUAGE_FALLBACK
                result["description_placeholders"] = note
            return result
    return flow.async_show_form(
        step_id="pipeline",
        data_schema=pipeline_schema(
            flow.hass, language, user_input or dict(current), ask_create=ask_create
        ),
        errors=errors,
    )

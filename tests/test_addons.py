"""Every add-on of the repository: where the Supervisor finds it, and where users read of it."""

from __future__ import annotations

import pytest

from tests.addons import ADDON_SLUGS, ADDONS_DIR, ROOT, load_yaml


def test_the_addons_are_the_ones_listed() -> None:
    """addons/ holds exactly ADDON_SLUGS, each with the files the Supervisor and the store use."""
    assert load_yaml(ROOT / "repository.yaml")["name"]
    assert sorted(path.name for path in ADDONS_DIR.iterdir() if path.is_dir()) == sorted(
        ADDON_SLUGS
    )
    for slug in ADDON_SLUGS:
        addon = ADDONS_DIR / slug
        config = load_yaml(addon / "config.yaml")
        assert config["slug"] == slug
        for name in (
            "build.yaml",
            "Dockerfile",
            "DOCS.md",
            "CHANGELOG.md",
            "icon.png",
            "logo.png",
            "translations/en.yaml",
            "translations/es.yaml",
        ):
            assert (addon / name).is_file(), (slug, name)
        [run] = (addon / "rootfs" / "usr" / "bin").iterdir()
        assert f'CMD ["/usr/bin/{run.name}"]' in (addon / "Dockerfile").read_text(encoding="utf-8")


@pytest.mark.parametrize("slug", ADDON_SLUGS)
def test_readme_lists_the_addon(slug: str) -> None:
    """The README's "What a user gets" table has a row for every add-on."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## What a user gets", 1)[1].split("\n## ", 1)[0]
    assert f"| add-on `{slug}` |" in table


@pytest.mark.parametrize("name", ["config.yaml", "config.yml", "config.json"])
def test_no_stray_addon_manifests(name: str) -> None:
    """The Supervisor takes any config.* file for an add-on manifest."""
    for folder in ("wyoming_servers", "tests", "bench", "peers", "custom_components", "scripts"):
        assert not list((ROOT / folder).rglob(name)), folder
    for path in ADDONS_DIR.rglob(name):
        assert len(path.relative_to(ROOT).parts) == 3, path  # only addons/<slug>/config.*

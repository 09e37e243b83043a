"""The deployment examples in deploy/ agree with the code: every variable the configuration
reads is in env.example, and compose.yaml starts two bots on its own PostgreSQL service.

Docker is not needed: the files are read as YAML and text, the variable names are derived
from bot/config.py (its sections' fields), never typed in here.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

from bot.config import (
    CONFIG_ENV,
    ENV_PREFIX,
    MINE_SECRETS,
    SCALAR_SECTIONS,
    load_config,
    mine_variable,
)
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
EXAMPLE_MINE = "xinji1"
"""The mine whose own bot env.example shows (the README's example mine)."""
BOTS = ("bot-1", "bot-2")
ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def config_variables() -> set[str]:
    """Every JINDIANZI_ variable the configuration reads, as `bot.config` derives them; a
    mine's own bot's, for `EXAMPLE_MINE`."""
    names = {CONFIG_ENV, f"{ENV_PREFIX}TIMEZONE"}
    for section, cls in SCALAR_SECTIONS.items():
        names.update(f"{ENV_PREFIX}{section}_{f.name}".upper() for f in dataclasses.fields(cls))
    names.update(mine_variable(EXAMPLE_MINE, key) for key in MINE_SECRETS)
    return names


def env_example() -> tuple[dict[str, str], dict[str, str]]:
    """env.example's (set, commented-out) assignments: name → value."""
    set_: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            (commented if line.startswith("#") else set_)[match[1]] = match[2]
    return set_, commented


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def interpolated(value: str) -> str:
    """`value` as compose would pass it, a password standing in for each `${...}`."""
    return re.sub(r"\$\{[^}]*\}", "password", value)


def test_the_derived_list_is_the_configuration() -> None:
    names = config_variables()
    assert {"JINDIANZI_STORAGE_URL", "JINDIANZI_TELEGRAM_TOKEN"} <= names
    assert {"JINDIANZI_WECOM_ENCODING_AES_KEY", "JINDIANZI_TELEGRAM_WEBHOOK_SECRET"} <= names
    assert "JINDIANZI_MINE_XINJI1_TELEGRAM_TOKEN" in names


def test_a_mine_s_own_bot_is_shown_commented_out() -> None:
    """Its variables name one mine of a group; a deployment without that mine sets none."""
    set_, commented = env_example()
    own = {mine_variable(EXAMPLE_MINE, key) for key in MINE_SECRETS}
    assert own <= set(commented) and not own & set(set_)


def test_env_example_names_every_variable_and_no_other() -> None:
    set_, commented = env_example()
    listed = {name for name in {*set_, *commented} if name.startswith(ENV_PREFIX)}
    assert config_variables() - listed == set(), "missing from deploy/env.example"
    assert listed - config_variables() == set(), "unknown to bot/config.py"


def test_env_example_sets_the_secrets_and_leaves_defaults_commented() -> None:
    set_, _ = env_example()
    secrets = {
        f"{ENV_PREFIX}{section}_{f.name}".upper()
        for section, cls in SCALAR_SECTIONS.items()
        for f in dataclasses.fields(cls)
        if "Secret" in str(f.type)
    }
    assert secrets <= set(set_), "every secret is a line to fill in"
    assert set_["JINDIANZI_STORAGE_SAMPLE_ROSTER"] == ""  # a deployment loads no sample people


def test_env_example_is_a_configuration_the_app_accepts(tmp_path: Path) -> None:
    """Its values and the commented defaults, all applied, load as they are."""
    set_, commented = env_example()
    environ = {**{k: v for k, v in commented.items() if v}, **set_}
    environ = {k: v for k, v in environ.items() if k.startswith(ENV_PREFIX) and k != CONFIG_ENV}
    config = load_config(ROOT / "config.yaml", environ)
    assert config.storage.url is not None and config.storage.sample_roster is None
    assert not config.telegram.enabled and not config.wecom.enabled  # nothing filled in yet


def test_compose_runs_two_bots_on_its_postgresql_service() -> None:
    found = compose()
    services = found["services"]
    assert set(BOTS) | {"db"} <= set(services)
    db = services["db"]
    assert str(db["image"]).startswith("postgres:15")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")[0]
    assert volume in found["volumes"]
    user, name = db["environment"]["POSTGRES_USER"], db["environment"]["POSTGRES_DB"]
    for bot in BOTS:
        service = services[bot]
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["command"] == ["run"]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["env_file"] == ".env"
        url = urllib.parse.urlsplit(interpolated(service["environment"]["JINDIANZI_STORAGE_URL"]))
        assert (url.hostname, url.username, url.path) == ("db", user, f"/{name}")
        assert set(service["environment"]) <= config_variables()
        for volume in (v.split(":")[0] for v in service["volumes"]):
            assert volume in found["volumes"]
    published = [services[bot]["ports"][0] for bot in BOTS]
    assert len(set(published)) == len(BOTS)
    assert all(p.startswith("127.0.0.1:") and p.endswith(":8080") for p in published)


def test_compose_interpolates_only_what_env_example_sets() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    set_, _ = env_example()
    assert set(re.findall(r"\$\{([A-Z_]+)", text)) <= set(set_)


def test_the_image_installs_the_repository_on_python_3_11_slim() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN pip install \.", dockerfile, re.MULTILINE)
    for copied in re.findall(r"^COPY (\S+)", dockerfile, re.MULTILINE):
        assert (ROOT / copied).exists(), copied


def test_the_systemd_units_restart_and_read_the_environment_file() -> None:
    for unit in ("jindianzi.service", "jindianzi@.service"):
        lines = (DEPLOY / unit).read_text(encoding="utf-8").splitlines()
        keys = {line.partition("=")[0]: line.partition("=")[2] for line in lines if "=" in line}
        assert keys["User"] == "jindianzi" and keys["EnvironmentFile"] == "/etc/jindianzi/env"
        assert (keys["Restart"], keys["RestartSec"], keys["KillSignal"]) == (
            "always",
            "2",
            "SIGTERM",
        )
        assert keys["ExecStart"].endswith("jindianzi run") and keys["TimeoutStopSec"]
        assert keys["WorkingDirectory"].startswith("/var/lib/jindianzi")

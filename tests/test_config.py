"""Configuration: typed, overridable from the environment, and loud about mistakes."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.app import build_settings
from bot.config import CATEGORY_IDS, Config, ConfigError, Secret, load_config
from handlers.services import Settings
from tests.support import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def shipped() -> dict[str, object]:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_shipped_config_is_shaped_like_the_case() -> None:
    config = load_config(ROOT / "config.yaml", {})
    assert [c.id for c in config.categories] == list(CATEGORY_IDS)
    assert {c.label for c in config.categories} == {
        "技术创新",
        "工艺改良",
        "修旧利废",
        "节能环保",
        "安全生产",
        "管理提升",
        "其他",
    }
    assert all(c.keywords for c in config.categories)
    assert [d.name for d in config.org.departments] == [
        "组织部",
        "宣传部",
        "党委办公室",
        "纪委",
        "工会",
        "团委",
    ]
    assert len(config.org.branches) >= 12
    supervised = {b.department for b in config.org.branches}
    assert supervised == {d.id for d in config.org.departments}
    assert config.timezone == "Asia/Shanghai"
    assert config.storage.path == ROOT / "data" / "jindianzi.db"
    assert set(config.schedule) >= {"weekly_meeting", "monthly_scores", "reward_meeting"}
    assert config.telegram.enabled is False and config.wecom.enabled is False


def test_environment_overrides_and_secrets_stay_hidden() -> None:
    env = {
        "JINDIANZI_TELEGRAM_TOKEN": "123456:ABC-secret",
        "JINDIANZI_WECOM_ENCODING_AES_KEY": "k" * 43,
        "JINDIANZI_WECOM_AGENT_ID": "1000002",
        "JINDIANZI_IDEAS_MAX_CHARS": "500",
        "JINDIANZI_TIMEZONE": "UTC",
        "JINDIANZI_CONFIG": "ignored here",
    }
    config = load_config(ROOT / "config.yaml", env)
    assert config.telegram.token == Secret("123456:ABC-secret")
    assert config.telegram.token is not None and config.telegram.token.get() == "123456:ABC-secret"
    assert config.wecom.agent_id == 1000002
    assert config.ideas.max_chars == 500
    assert config.timezone == "UTC"
    assert config.telegram.enabled
    shown = repr(config) + str(config.telegram)
    assert "ABC-secret" not in shown and "kkkk" not in shown


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"JINDIANZI_TELEGRAM_TOKN": "x"}, "JINDIANZI_TELEGRAM_TOKN"),
        ({"JINDIANZI_IDEAS_MAX_CHARS": "lots"}, "ideas.max_chars"),
        ({"JINDIANZI_TIMEZONE": "Mars/Olympus"}, "timezone"),
        ({"JINDIANZI_TELEGRAM_MODE": "carrier-pigeon"}, "telegram.mode"),
    ],
)
def test_bad_environment_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(ROOT / "config.yaml", env)
    assert err.value.key == key


def mutate(tmp_path: Path, change: str) -> Path:
    data = shipped()
    categories = data["categories"]
    org = data["org"]
    schedule = data["schedule"]
    assert isinstance(categories, list) and isinstance(org, dict) and isinstance(schedule, dict)
    if change == "unknown_category":
        categories[2]["id"] = "bolt_magic"
    elif change == "missing_category":
        del categories[4]
    elif change == "branch_department":
        org["branches"][3]["department"] = "marketing"
    elif change == "numeric_weekday":
        schedule["weekly_meeting"] = {"day_of_week": 0, "hour": 8}
    elif change == "bad_schedule":
        schedule["reward_meeting"] = {"day": "first thu", "hour": 7}
    elif change == "unknown_key":
        data["storage"] = {"paht": "x.db"}
    return write(tmp_path, yaml.safe_dump(data, allow_unicode=True))


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ("unknown_category", "categories[2].id"),
        ("missing_category", "categories"),
        ("branch_department", "org.branches[3].department"),
        ("numeric_weekday", "schedule.weekly_meeting.day_of_week"),
        ("bad_schedule", "schedule.reward_meeting"),
        ("unknown_key", "storage.paht"),
    ],
)
def test_bad_file_names_the_key(tmp_path: Path, change: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(mutate(tmp_path, change), {})
    assert err.value.key == key
    assert "\n" not in str(err.value)


def test_syntax_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="YAML 语法错误"):
        load_config(write(tmp_path, "storage: [unclosed\n"), {})
    with pytest.raises(ConfigError, match="不存在"):
        load_config(tmp_path / "nope.yaml", {})


def test_a_file_with_only_categories_takes_every_default_from_the_sections(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, yaml.safe_dump({"categories": shipped()["categories"]}))
    config = load_config(path, {})
    defaults = Config()
    assert config.timezone == defaults.timezone == "Asia/Shanghai"
    assert config.misfire_grace == defaults.misfire_grace == timedelta(hours=12)
    assert config.reward_tiers == defaults.reward_tiers
    assert config.storage.path == tmp_path / defaults.storage.path
    for name in ("telegram", "wecom", "nlp", "ideas", "supervision", "scoring"):
        assert getattr(config, name) == getattr(defaults, name)


def test_handler_settings_come_from_the_config_alone() -> None:
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(Settings))
    env = {
        "JINDIANZI_SCORING_PROJECT_WEIGHT": "0.25",
        "JINDIANZI_SCORING_SELF_WEIGHT": "0.5",
        "JINDIANZI_SCORING_DEPT_WEIGHT": "0.25",
        "JINDIANZI_SCORING_LEADER_WEIGHT": "0.25",
        "JINDIANZI_IDEAS_PAGE_SIZE": "5",
        "JINDIANZI_SUPERVISION_NOTIFY_GROUP": "false",
    }
    config = load_config(ROOT / "config.yaml", env)
    settings = build_settings(config)
    assert settings.project_weight == 0.25
    assert settings.part_weights == (("self", 0.5), ("dept", 0.25), ("leader", 0.25))
    assert settings.page_size == 5 and settings.notify_group is False
    assert settings.reward_tiers == config.reward_tiers
    assert settings.yearly_target_fen == config.scoring.yearly_benefit_target_yuan * 100
    assert settings.chart_dir == config.storage.data_dir / "charts"


WECOM_ENV = {
    "JINDIANZI_WECOM_CORP_ID": "ww1",
    "JINDIANZI_WECOM_AGENT_ID": "1000002",
    "JINDIANZI_WECOM_SECRET": "s",
    "JINDIANZI_WECOM_TOKEN": "t",
}


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"JINDIANZI_TELEGRAM_MAX_MESSAGES_PER_SECOND": "0"}, "telegram.max_messages_per_second"),
        (
            {"JINDIANZI_TELEGRAM_MAX_MESSAGES_PER_MINUTE_PER_GROUP": "-5"},
            "telegram.max_messages_per_minute_per_group",
        ),
        ({**WECOM_ENV, "JINDIANZI_WECOM_ENCODING_AES_KEY": "!" * 43}, "wecom.encoding_aes_key"),
        (  # 43 characters of base64, but of 31 bytes
            {**WECOM_ENV, "JINDIANZI_WECOM_ENCODING_AES_KEY": "A" * 41 + "=="},
            "wecom.encoding_aes_key",
        ),
        ({"JINDIANZI_STORAGE_BUSY_TIMEOUT_S": "0"}, "storage.busy_timeout_s"),
    ],
)
def test_values_that_would_break_later_are_refused_at_start(
    environ: dict[str, str], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ROOT / "config.yaml", environ)
    assert str(caught.value).startswith(key + ":")


def test_a_yearly_target_of_zero_is_refused(tmp_path: Path) -> None:
    data = shipped()
    data["scoring"] = {**dict(data.get("scoring") or {}), "yearly_benefit_target_yuan": 0}  # type: ignore[call-overload]
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, yaml.safe_dump(data, allow_unicode=True)), {})
    assert str(caught.value).startswith("scoring.yearly_benefit_target_yuan:")

"""One settings object: environment, nesting, .env, secrets, and bad values that stop start-up
with a message naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import ConfigError
from bot.settings import load_settings


def test_environment_nests_with_double_underscores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOT_LLM__BACKEND", "remote")
    monkeypatch.setenv("SHOPBOT_LLM__URL", "http://vllm:8000/v1/")
    monkeypatch.setenv("SHOPBOT_LLM__API_KEY", "sk-secret")
    monkeypatch.setenv("SHOPBOT_WEB__ALLOWED_ORIGINS", "https://shop.example, https://www.shop.example/")
    monkeypatch.setenv("SHOPBOT_REDIS_URL", "redis://redis:6379/0")
    settings = load_settings()
    assert settings.llm.backend == "remote" and settings.llm.url == "http://vllm:8000/v1"
    assert settings.web.allowed_origins == ["https://shop.example", "https://www.shop.example"]
    assert settings.redis_url == "redis://redis:6379/0"
    assert "sk-secret" not in repr(settings), "secrets never show in logs or reprs"
    assert settings.llm.api_key is not None and settings.llm.api_key.get_secret_value() == "sk-secret"


def test_a_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SHOPBOT_WEB__PORT=9123\nSHOPBOT_HISTORY__LIMIT=7\n")
    settings = load_settings()
    assert settings.web.port == 9123 and settings.history.limit == 7


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("SHOPBOT_LLM__BACKEND", "gpt", "'local' or 'remote'"),
        ("SHOPBOT_WEB__PORT", "eighty", "valid integer"),
        ("SHOPBOT_WEB__PORT", "70000", "less than or equal to 65535"),
        ("SHOPBOT_REDIS_URL", "localhost:6379", "redis://"),
        ("SHOPBOT_LLM__TEMPERATURE", "-1", "greater than or equal to 0"),
        ("SHOPBOT_WEB__ALLOWED_ORIGINS", "shop.example", "not an origin"),
        ("SHOPBOT_LOG_LEVEL", "LOUD", "'DEBUG'"),
    ],
)
def test_a_bad_value_names_the_setting_and_what_is_allowed(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert variable in str(caught.value) and says in str(caught.value)


def test_serve_refuses_to_start_with_a_bad_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHOPBOT_LLM__MAX_NEW_TOKENS", "lots")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "SHOPBOT_LLM__MAX_NEW_TOKENS" in err and "lots" in err


def test_remote_backend_without_a_url_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    monkeypatch.setenv("SHOPBOT_LLM__BACKEND", "remote")
    monkeypatch.setenv("SHOPBOT_REDIS_URL", redis_url)
    assert main(["chat"]) == 2
    assert "SHOPBOT_LLM__URL is required" in capsys.readouterr().err


def test_a_missing_model_folder_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHOPBOT_REDIS_URL", redis_url)
    assert main(["chat", "--model", str(tmp_path / "no-such-model")]) == 2
    assert "SHOPBOT_LLM__PATH" in capsys.readouterr().err


def test_every_setting_is_documented_in_the_readme() -> None:
    from pydantic import BaseModel

    from bot.settings import ENV_PREFIX, Settings

    def names(model: type[BaseModel], prefix: str) -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                out += names(kind, f"{prefix}{name.upper()}__")
            else:
                out.append(prefix + name.upper())
        return out

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    missing = [name for name in names(Settings, ENV_PREFIX) if f"`{name}`" not in readme]
    assert not missing, f"settings missing from the README's table: {missing}"


def test_a_telegram_webhook_without_its_secret_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPBOT_TELEGRAM__TOKEN", "123:abc")
    monkeypatch.setenv("SHOPBOT_TELEGRAM__MODE", "webhook")
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        load_settings()
    monkeypatch.setenv("SHOPBOT_TELEGRAM__WEBHOOK_SECRET", "has spaces")
    with pytest.raises(ConfigError, match="SHOPBOT_TELEGRAM__WEBHOOK_SECRET"):
        load_settings()
    monkeypatch.setenv("SHOPBOT_TELEGRAM__WEBHOOK_SECRET", "a_good-secret")
    assert load_settings().telegram.webhook_secret is not None

"""Every setting says what it means, and .env.example (generated from the settings) lists every
one of them with its meaning and a default that loads as the default."""

from __future__ import annotations

from pathlib import Path

from events.config import Settings, env_example

ENV_EXAMPLE = Path(__file__).parent.parent / ".env.example"


def test_every_setting_has_a_meaning() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == [], f"give these settings a description: {missing}"


def test_env_example_lists_every_setting() -> None:
    listed = {
        line[len("#INFOBIP_EVENTS_") :].split("=", 1)[0].lower()
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.startswith("#INFOBIP_EVENTS_")
    }
    missing = sorted(set(Settings.model_fields) - listed)
    assert missing == [], f"missing from .env.example: {missing}"


def test_env_example_is_what_the_settings_generate() -> None:
    assert ENV_EXAMPLE.read_text() == env_example(), (
        ".env.example is out of date: python -m events.config > .env.example"
    )


def test_env_example_defaults_load_as_the_defaults(tmp_path: Path) -> None:
    """Uncommenting a line of .env.example changes nothing: its value is the default."""
    lines = []
    for line in env_example().splitlines():
        if line.startswith("#INFOBIP_EVENTS_") and not line.endswith("="):
            lines.append(line[1:])
    assert len(lines) > 40
    env = tmp_path / "example.env"
    env.write_text("\n".join(lines) + "\n")
    loaded = Settings(_env_file=env)  # type: ignore[call-arg]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert loaded.model_dump() == defaults.model_dump()

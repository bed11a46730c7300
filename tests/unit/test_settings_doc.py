"""Every setting is documented in docs/reference/settings.md."""

from pathlib import Path

from csms.settings import NodeSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in NodeSettings.model_fields if f"`CSMS_{name.upper()}`" not in text]
    assert missing == []

"""Every setting is documented in docs/reference/settings.md."""

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from csms.settings import NodeSettings, WorkerSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "settings.md"


@pytest.mark.parametrize("settings", [NodeSettings, WorkerSettings])
def test_every_setting_is_documented(settings: type[BaseSettings]) -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in settings.model_fields if f"`CSMS_{name.upper()}`" not in text]
    assert missing == []

"""One settings object from NARRATOR_* variables; nothing set means the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import Settings


def test_nothing_set_is_the_embedded_default(tmp_path: Path) -> None:
    s = Settings.from_env({"NARRATOR_DATA_DIR": str(tmp_path)})
    assert s.embedded
    assert s.database_url == f"sqlite:///{tmp_path / 'narrator.db'}"
    assert s.storage_url == (tmp_path / "storage").as_uri()


def test_environment_configures_the_distributed_service() -> None:
    s = Settings.from_env({
        "NARRATOR_DATABASE_URL": "postgresql+psycopg://db/narrator",
        "NARRATOR_BROKER_URL": "redis://redis:6379/0",
        "NARRATOR_STORAGE_URL": "s3://audio",
        "NARRATOR_PRESIGN_TTL_SECONDS": "60",
    })
    assert not s.embedded
    assert (s.database_url, s.storage_url, s.presign_ttl_seconds) == ("postgresql+psycopg://db/narrator", "s3://audio", 60)


def test_a_bad_number_names_the_variable() -> None:
    with pytest.raises(ValueError, match="NARRATOR_PRESIGN_TTL_SECONDS"):
        Settings.from_env({"NARRATOR_PRESIGN_TTL_SECONDS": "soon"})

"""The deployment secret: refused when missing, published or short outside the embedded
mode (the service does not start, and says which variable); made once, 0600, in the
embedded mode; and never used as a key itself, only through one derived key per purpose."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from shared.secret_keys import (
    MIN_SECRET_CHARS,
    PURPOSES,
    SECRET_FILE,
    SecretKeys,
    WeakSecret,
    check_secret,
    derive,
)
from shared.settings import Settings
from tests.support import devservices
from worker.tts.synthesis.watermark import watermark_key

pytestmark = pytest.mark.attack  # reproduces an attack against the running service (README: Security model)

ROOT = Path(__file__).resolve().parents[2]
WEAK = {"missing": "", "published default": "dev-only-change-me", "k8s placeholder": "change-me",
        "old test secret": "test-secret", "short": "x" * (MIN_SECRET_CHARS - 1),
        "long placeholder": "change-me-to-something-random-and-long-please"}


@pytest.mark.parametrize("secret", WEAK.values(), ids=WEAK.keys())
def test_outside_the_embedded_mode_a_weak_secret_is_refused(secret: str, tmp_path: Path) -> None:
    for distributed in ({"broker_url": "redis://127.0.0.1:6379/12"},
                        {"database_url": "postgresql+psycopg://db/narrator"}):
        settings = Settings(data_dir=tmp_path, secret_key=secret, **distributed)
        with pytest.raises(WeakSecret, match="NARRATOR_SECRET_KEY"):
            SecretKeys.of(settings)
    assert not (tmp_path / SECRET_FILE).exists()  # never quietly made up for a deployment


def test_the_api_and_the_worker_refuse_to_start_and_name_the_variable(settings: Settings, tmp_path: Path) -> None:
    """``narrator api`` and ``narrator worker`` with the old default secret: exit 2 at once,
    the variable named (before this check the API served and the worker consumed)."""
    for secret in ("dev-only-change-me", ""):
        env = devservices.settings_env(settings.with_(secret_key=secret, metrics_port=0, data_dir=tmp_path))
        for command in (["api", "--port", str(devservices.free_port())], ["worker", "--queues", "synth"]):
            out = subprocess.run([sys.executable, "-m", "worker.cli", *command], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=120, check=False)
            assert out.returncode == 2, (command, out.stderr[-2000:])
            assert "NARRATOR_SECRET_KEY" in out.stderr and "Traceback" not in out.stderr, out.stderr[-2000:]


def test_a_strong_secret_is_accepted() -> None:
    check_secret(secrets.token_urlsafe(32))
    check_secret(secrets.token_hex(16))  # 32 hex characters: the documented minimum


def test_the_embedded_mode_makes_its_secret_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)  # no broker, SQLite: standalone
    assert settings.standalone and settings.secret_key == ""
    first = SecretKeys.of(settings)
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(path.read_text().strip()) >= MIN_SECRET_CHARS
    assert SecretKeys.of(Settings(data_dir=tmp_path)) == first  # reused, not made again
    assert SecretKeys.of(Settings(data_dir=tmp_path / "other")) != first  # each install its own


def test_each_purpose_has_its_own_key_and_none_is_the_secret() -> None:
    secret = secrets.token_urlsafe(32)
    derived = {purpose: derive(secret, purpose) for purpose in PURPOSES}
    assert len(set(derived.values())) == len(PURPOSES)
    assert all(len(k) == 32 and secret.encode() not in k for k in derived.values())
    keys = SecretKeys.of(Settings(secret_key=secret, broker_url="redis://x"))
    assert (keys.sessions, keys.files, keys.watermark) == (derived["sessions"], derived["files"], derived["watermark"])
    # The watermark of the render path and of `narrator watermark detect`, and the helper's.
    assert watermark_key(secret) == keys.watermark


def test_console_settings_from_the_environment(tmp_path: Path) -> None:
    s = Settings.from_env({"NARRATOR_DATA_DIR": str(tmp_path), "NARRATOR_CONSOLE_SECURE_COOKIE": "true",
                           "NARRATOR_CONSOLE_IDLE_SECONDS": "60"})
    assert s.console_secure_cookie is True and s.console_idle_seconds == 60
    assert Settings().console_secure_cookie is False
    with pytest.raises(ValueError, match="NARRATOR_CONSOLE_SECURE_COOKIE"):
        Settings.from_env({"NARRATOR_CONSOLE_SECURE_COOKIE": "maybe"})

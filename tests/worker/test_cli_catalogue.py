"""``narrator render`` names each output file by the catalogue's ``id``: an id that is a path
(``../x``, ``/abs/x``) must not write outside ``--out``. The CLI refuses such a catalogue
before it enrolls or renders anything, so these runs are cheap (no model is loaded)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.cli.catalogue import is_plain_file_stem, read_catalog

pytestmark = pytest.mark.attack  # reproduces an attack against the running service (README: Security model)

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "examples" / "reference.wav"
CONSENT = ["--consent", str(REFERENCE.with_name("consent.wav")), "--speaker", "林小雨", "--company", "星光电器"]


def render(tmp_path: Path, catalogue: str) -> subprocess.CompletedProcess[str]:
    csv_path = tmp_path / "work" / "catalogue.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    csv_path.write_text(catalogue, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NARRATOR_")}
    env["NARRATOR_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([sys.executable, "-m", "worker.cli", "render", str(csv_path), "--reference",
                           str(REFERENCE), "--out", str(tmp_path / "work" / "out"), *CONSENT],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("bad_id", ["../escaped", "/ABS/escaped", "sub/escaped", "..", "a\\b"])
def test_render_refuses_an_id_that_would_write_outside_out(tmp_path: Path, bad_id: str) -> None:
    target = tmp_path / "work" / "ABS"
    line_id = str(target / "escaped") if bad_id.startswith("/ABS/") else bad_id
    proc = render(tmp_path, f"id,text\nok,你好。\n{line_id},欢迎收听。\n")
    assert proc.returncode != 0
    assert "not a plain file name" in proc.stderr and repr(line_id) in proc.stderr, proc.stderr[-2000:]
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.wav"))
    assert written == [], written  # nothing rendered anywhere, inside --out or outside it
    assert not (tmp_path / "data").exists(), "refused before the embedded service was even set up"


def test_render_refuses_an_id_used_twice(tmp_path: Path) -> None:
    proc = render(tmp_path, "id,text\nsku1,你好。\nSKU1,欢迎收听。\n")
    assert proc.returncode != 0 and "appears twice" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize(("name", "plain"), [
    ("sku-001", True), ("台灯 红色", True), ("v1.2", True),
    ("../x", False), ("/abs/x", False), ("a/b", False), ("a\\b", False), (".hidden", False), ("..", False),
    ("C:x", False), ("a\nb", False), ("", False), ("x" * 201, False),
])
def test_which_ids_are_plain_file_names(name: str, plain: bool) -> None:
    assert is_plain_file_stem(name) is plain


def test_a_catalogue_in_a_local_encoding_is_refused_saying_why(tmp_path: Path) -> None:
    catalog = tmp_path / "c.csv"
    catalog.write_bytes("text,id\n这款手机售价三千元。,a\n".encode("gbk"))
    with pytest.raises(SystemExit, match="not UTF-8.*CSV UTF-8"):
        read_catalog(catalog)


def test_a_file_takes_the_extension_of_the_batchs_format(tmp_path: Path) -> None:
    from worker.cli.catalogue import output_file

    assert output_file(tmp_path, "sku-1", "mp3") == (tmp_path / "sku-1.mp3").resolve()
    assert output_file(tmp_path, "sku-1") == (tmp_path / "sku-1.wav").resolve()

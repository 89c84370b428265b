"""``wfsync pull`` writing files: never through a symbolic link (dangling or not, with or
without --force), 0644, the editor's $schema line, a follow-up hint that repeats the flags."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from wfsync.cli import main
from wfsync.emulator import DEV_KEY
from wfsync.emulator.server import EmulatorServer


@pytest.fixture
def api_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorServer) -> EmulatorServer:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_URL", emulator.url)
    monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
    emulator.store.create_workflow({"title": "Lead follow-up", "callbackUrl": "https://x.example.com/h"})
    return emulator


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_dangling_link_is_not_written_through(api_env: EmulatorServer, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "planted.yaml"
    outside.parent.mkdir()
    Path("adopted").mkdir()
    Path("adopted/lead-follow-up.yaml").symlink_to(outside)
    refused = CliRunner().invoke(main, ["pull", "adopted"])
    assert refused.exit_code == 1
    assert "1 file exists in adopted: lead-follow-up.yaml; nothing was written" in refused.output
    assert not outside.exists() and os.path.islink("adopted/lead-follow-up.yaml")


def test_force_replaces_a_dangling_link_itself(api_env: EmulatorServer, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "planted.yaml"
    outside.parent.mkdir()
    Path("adopted").mkdir()
    Path("adopted/lead-follow-up.yaml").symlink_to(outside)
    assert cli("pull", "adopted", "--force").exit_code == 0
    assert not outside.exists()
    written = Path("adopted/lead-follow-up.yaml")
    assert not written.is_symlink() and "Lead follow-up" in written.read_text(encoding="utf-8")
    assert sorted(os.listdir("adopted")) == ["lead-follow-up.yaml"]  # no scratch file left


def test_a_link_to_a_file_outside_keeps_its_target(api_env: EmulatorServer, tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("precious\n", encoding="utf-8")
    Path("adopted").mkdir()
    Path("adopted/lead-follow-up.yaml").symlink_to(outside)
    refused = CliRunner().invoke(main, ["pull", "adopted"])
    assert refused.exit_code == 1 and "nothing was written" in refused.output
    assert cli("pull", "adopted", "--force").exit_code == 0
    assert outside.read_text(encoding="utf-8") == "precious\n"
    assert not Path("adopted/lead-follow-up.yaml").is_symlink()


def test_files_are_for_git_0644(api_env: EmulatorServer) -> None:
    old = os.umask(0o022)
    try:
        assert cli("pull", "adopted").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat("adopted/lead-follow-up.yaml").st_mode) == 0o644


def test_pulled_files_name_the_nearest_schema(api_env: EmulatorServer) -> None:
    Path("schemas").mkdir()
    Path("schemas/definitions.schema.json").write_text("{}", encoding="utf-8")
    result = cli("pull", "deep/adopted")
    assert result.exit_code == 0 and "Note:" not in result.output
    text = Path("deep/adopted/lead-follow-up.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../../schemas/definitions.schema.json"


def test_without_a_schema_the_line_names_where_init_puts_it(api_env: EmulatorServer) -> None:
    os.mkdir(".git")  # the search stops at the repository's root
    result = cli("pull", "adopted")
    text = Path("adopted/lead-follow-up.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../schemas/definitions.schema.json"
    assert "not there yet: `wfsync init` writes it" in result.output


def test_the_hint_repeats_the_flags_that_chose_the_api(api_env: EmulatorServer) -> None:
    result = cli("pull", "my files", "--api-url", api_env.url)
    assert result.output.splitlines()[0] == (
        f"Wrote 1 workflow to my files. Check them with: wfsync plan 'my files' --api-url {api_env.url}"
    )
    sandboxed = cli("pull", "box", "--sandbox")
    assert "Check them with: wfsync plan box --sandbox" in sandboxed.output

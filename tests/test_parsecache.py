"""The cache of read definition files: the same answers as without it, never an
environment value in it, nothing trusted that this user's wfsync did not write."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_definitions_fuzz import PLAIN_VALID, TOKENS, VALID
from wfsync import parsecache
from wfsync.cli import main
from wfsync.definitions import DefinitionError, load_definitions
from wfsync.emulator import DEV_KEY
from wfsync.emulator.server import EmulatorServer
from wfsync.parsecache import ParseCache, user_cache
from wfsync.yamlsource import YamlError, read_yaml

SECRET = "s3cr3t-Distinctive-7f1c9e"  # an environment value: never in the cache


def load(folder: Path, env: dict[str, str], cache: ParseCache | None, **options: object) -> object:
    """The definitions, or the problems (as text), of ``folder``."""
    try:
        return load_definitions([folder], env=env, cache=cache, **options)  # type: ignore[arg-type]
    except DefinitionError as exc:
        return [str(problem) for problem in exc.problems]


def mutated(base: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for at, cut, insert in edits:
        at = min(at, len(base))
        base = base[:at] + insert + base[at + cut :]
    return base


ENVS = st.sampled_from([{"HOOK": "x"}, {"HOOK": SECRET}, {}, {"HOOK": ""}, {"HOOK": "has space"}])
EDITS = st.lists(
    st.tuples(st.integers(0, len(VALID)), st.integers(0, 8), st.sampled_from(TOKENS)), max_size=4
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([VALID, PLAIN_VALID]), EDITS, ENVS, ENVS, st.booleans())
def test_answers_from_the_cache_are_the_answers_without_it(
    base: bytes,
    edits: list[tuple[int, int, bytes]],
    first_env: dict[str, str],
    env: dict[str, str],
    strict: bool,
) -> None:
    data = mutated(base, edits)
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        (root / "defs").mkdir()
        (root / "defs" / "w.yaml").write_bytes(data)
        (root / "cache").mkdir()
        cache = ParseCache(root / "cache", b"k" * 32, b"fingerprint")
        # Kept while loading for one environment, answered for another.
        load(root / "defs", first_env, cache, require_env=strict)
        fresh = load(root / "defs", env, None, require_env=strict)
        assert load(root / "defs", env, cache, require_env=strict) == fresh
        try:
            document = read_yaml(str(root / "defs" / "w.yaml"), data)
        except YamlError:
            return
        if not document.problems:  # the cache did answer: a hit, not a miss every time
            found = cache.get(str(root / "defs" / "w.yaml"), data)
            assert found is not None
            kept = found.document
            # Every place is where the file has it, those it keeps and those it reads again.
            for path in document.values:
                assert kept.where(path) == document.where(path)
            for path in document.keys:
                assert kept.where(path, key=True) == document.where(path, key=True)
        for entry in (root / "cache").iterdir():
            assert SECRET.encode() not in entry.read_bytes()


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "w.yaml").write_bytes(PLAIN_VALID)
    (tmp_path / "cache").mkdir()
    return tmp_path / "defs", tmp_path / "cache"


def planted(cache: ParseCache, data: bytes, value: object, *, key: bytes | None = None) -> Path:
    """An entry for ``data`` holding ``value``, sealed with ``key`` (the cache's own by default)."""
    forger = ParseCache(cache.folder, key or cache._key, cache._fingerprint)
    name = forger._name(data)
    payload = json.dumps({"value": value, "marks": [], "dollars": [], "checked": False}).encode()
    (cache.folder / name).write_bytes(forger._seal(name, payload) + payload)
    return cache.folder / name


def test_an_entry_it_did_not_seal_is_ignored(folders: tuple[Path, Path]) -> None:
    defs, folder = folders
    cache = ParseCache(folder, b"k" * 32, b"fingerprint")
    other = {"workflows": [{"title": "Planted"}]}
    planted(cache, PLAIN_VALID, other, key=b"x" * 32)
    titles = [d.title for d in load(defs, {"HOOK": "x"}, cache)]  # type: ignore[attr-defined]
    assert titles == ["Lead follow-up", "Reminder"]
    # The same entry sealed with the right key is believed: the seal is what decides.
    planted(cache, PLAIN_VALID, other)
    assert [d.title for d in load(defs, {"HOOK": "x"}, cache)] == ["Planted"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: entry[:10],  # cut short
        lambda entry: entry[:-3] + b"xyz",  # the payload changed after sealing
        lambda entry: bytes([entry[0] ^ 1]) + entry[1:],  # the seal changed
        lambda entry: b"",
        lambda entry: os.urandom(200),
    ],
)
def test_a_damaged_entry_is_ignored(folders: tuple[Path, Path], damage: object) -> None:
    defs, folder = folders
    cache = ParseCache(folder, b"k" * 32, b"fingerprint")
    expected = load(defs, {"HOOK": "x"}, None)
    assert load(defs, {"HOOK": "x"}, cache) == expected
    (entry,) = folder.iterdir()
    entry.write_bytes(damage(entry.read_bytes()))  # type: ignore[operator]
    assert load(defs, {"HOOK": "x"}, cache) == expected


def test_a_sealed_entry_that_does_not_decode_is_ignored(folders: tuple[Path, Path]) -> None:
    defs, folder = folders
    cache = ParseCache(folder, b"k" * 32, b"fingerprint")
    name = cache._name(PLAIN_VALID)
    for payload in (
        b"not json",
        b"[1, 2]",
        b'{"value": 1}',
        b'{"value": {}, "marks": [1], "dollars": [], "checked": true}',
        b'{"value": {}, "marks": [], "dollars": [1], "checked": true}',
    ):
        (folder / name).write_bytes(cache._seal(name, payload) + payload)
        assert cache.get("w.yaml", PLAIN_VALID) is None
    assert [d.title for d in load(defs, {"HOOK": "x"}, cache)] == ["Lead follow-up", "Reminder"]  # type: ignore[attr-defined]


def test_entries_are_for_one_reader_and_one_content(folders: tuple[Path, Path]) -> None:
    defs, folder = folders
    load(defs, {"HOOK": "x"}, ParseCache(folder, b"k" * 32, b"fingerprint"))
    assert ParseCache(folder, b"k" * 32, b"fingerprint").get("w.yaml", PLAIN_VALID) is not None
    assert ParseCache(folder, b"k" * 32, b"another reader").get("w.yaml", PLAIN_VALID) is None
    assert ParseCache(folder, b"k" * 32, b"fingerprint").get("w.yaml", PLAIN_VALID + b"#\n") is None


def test_entries_unused_for_a_month_are_pruned_and_those_in_use_kept(folders: tuple[Path, Path]) -> None:
    """The cache does not grow for good: every edit of a file, every new wfsync makes new
    entries, and the old ones are removed once unused for MAX_AGE."""
    defs, folder = folders
    old = ParseCache(folder, b"k" * 32, b"an older wfsync")
    load(defs, {"HOOK": "x"}, old)
    cache = ParseCache(folder, b"k" * 32, b"fingerprint")
    load(defs, {"HOOK": "x"}, cache)
    old_entries = {old._name(PLAIN_VALID), old._name(VALID)} & set(os.listdir(folder))
    entries = {cache._name(PLAIN_VALID), cache._name(VALID)} & set(os.listdir(folder))
    assert old_entries and entries
    (folder / "key").write_bytes(b"k" * 32)
    dead_writer = folder / f".{cache._name(b'x')}.4242.1"  # left by a writer that died
    dead_writer.write_bytes(b"half")
    month = parsecache.MAX_AGE + parsecache.DAY
    for name in [*old_entries, *entries, "key", dead_writer.name]:
        os.utime(folder / name, (0, os.stat(folder / name).st_mtime - month))
    now = os.stat(folder / "key").st_mtime + month
    load(defs, {"HOOK": "x"}, cache)  # the entries of this wfsync are in use: refreshed
    assert cache.prune(now=now) == len(old_entries) + 1
    assert set(os.listdir(folder)) == {*entries, "key", ".pruned"}
    # At most once a day: an entry left unused meanwhile waits for the next day.
    for name in entries:
        os.utime(folder / name, (0, 0))
    assert cache.prune(now=now + 3600) == 0 and entries <= set(os.listdir(folder))
    assert cache.prune(now=now + parsecache.DAY + 1) == len(entries)
    assert cache.get("w.yaml", PLAIN_VALID) is None  # and is simply read again


def test_the_users_cache_is_pruned_when_made(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    cache = user_cache(env)
    assert cache is not None
    stale = cache.folder / ("0" * 64)
    stale.write_bytes(b"an entry of long ago")
    os.utime(stale, (0, 0))
    assert user_cache(env) is not None and stale.exists()  # pruned within the day already
    os.utime(cache.folder / ".pruned", (0, 0))
    assert user_cache(env) is not None and not stale.exists()


def test_a_file_with_a_problem_is_read_again_for_its_places(folders: tuple[Path, Path]) -> None:
    defs, folder = folders
    cache = ParseCache(folder, b"k" * 32, b"fingerprint")
    load(defs, {"HOOK": "x"}, cache)
    problems = load(defs, {}, cache)  # the secret is missing now
    assert problems == load(defs, {}, None)
    assert problems == [f"{defs / 'w.yaml'}:5:12: environment variable HOOK is not set"]


def test_the_users_cache_is_private(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    cache = user_cache(env)
    assert cache is not None
    folder = tmp_path / "wfsync" / "definitions"
    assert cache.folder == folder
    assert (folder.stat().st_mode & 0o777, folder.parent.stat().st_mode & 0o777) == (0o700, 0o700)
    assert (folder / "key").stat().st_mode & 0o777 == 0o600
    assert user_cache(env)._key == cache._key  # type: ignore[union-attr]
    assert user_cache({**env, "WFSYNC_CACHE": "off"}) is None
    (folder / "key").chmod(0o644)  # a key others may read seals nothing
    assert user_cache(env) is None
    (folder / "key").chmod(0o600)
    folder.chmod(0o755)  # a folder others may write into is not trusted
    assert user_cache(env) is None
    folder.chmod(0o700)
    folder.parent.chmod(0o755)  # as apply's locks make it: others may read, not write
    assert user_cache(env) is not None
    folder.parent.chmod(0o777)
    assert user_cache(env) is None
    folder.parent.chmod(0o700)
    (folder / "key").write_bytes(b"short")
    assert user_cache(env) is None


def test_validate_and_plan_use_it_and_apply_never_does(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "workflows").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WFSYNC_API_URL", emulator.url)
    monkeypatch.setenv("WFSYNC_API_KEY", DEV_KEY)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOOK_TOKEN", SECRET)
    data = b"workflows:\n  - title: Reviewed\n    webhook:\n      url: https://h.example.com/${HOOK_TOKEN}\n"
    Path("workflows/w.yaml").write_bytes(data)
    runner = CliRunner()
    assert runner.invoke(main, ["validate"], catch_exceptions=False).exit_code == 0
    cache = user_cache()
    assert cache is not None and cache.get("w.yaml", data) is not None
    for entry in cache.folder.iterdir():
        assert SECRET.encode() not in entry.read_bytes()
    # Whoever can seal entries can change what validate and plan read...
    planted(cache, data, {"workflows": [{"title": "Planted"}]})
    assert "Planted" in runner.invoke(main, ["plan"], catch_exceptions=False).output
    # ...but never what is applied: apply reads the files themselves.
    result = runner.invoke(main, ["apply", "--auto-approve"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [w["title"] for w in emulator.store.list_workflows(0, 100)[0]] == ["Reviewed"]


def test_the_fingerprint_follows_the_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    before = parsecache._fingerprint()
    monkeypatch.setattr("wfsync.__version__", "99.0")
    assert parsecache._fingerprint() != before


@pytest.mark.parametrize("reader", ["yamlsource.py", "yamlcompose.py", "yamlfast.py"])
def test_the_fingerprint_follows_each_reader_module(monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    # Found by their files, not imported: PyYAML stays out of a run the cache answers.
    before = parsecache._fingerprint()
    read_bytes = Path.read_bytes

    def edited(path: Path) -> bytes:
        return read_bytes(path) + (b"# edited" if path.name == reader else b"")

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert parsecache._fingerprint() != before


def test_the_fingerprint_holds_pyyamls_version_and_its_c_extension() -> None:
    import yaml

    held = parsecache._pyyaml()
    assert f'__version__ = "{yaml.__version__}"'.encode() in held or yaml.__version__.encode() in held
    assert (b"_yaml." in held) == yaml.__with_libyaml__


def test_a_run_the_cache_answers_imports_no_reader_nor_logging_nor_sqlite(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "w.yaml").write_bytes(VALID)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "WFSYNC_CACHE": "on", "HOOK": "x"}
    code = (
        "import sys; from wfsync.cli import main\n"
        "try: main(['validate', sys.argv[1]])\n"
        "except SystemExit: pass\n"
        "print([m for m in ('yaml', 'logging', 'sqlite3') if m in sys.modules], file=sys.stderr)"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "w.yaml")], env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    # The first run reads the file (PyYAML); the second is answered by the cache.
    assert [run.stderr.splitlines()[-1] for run in runs] == ["['yaml']", "[]"], runs


def test_pruning_removes_no_symlink_and_writes_nothing_outside_its_folder(tmp_path: Path) -> None:
    """The cache writes plain files only: a symlink in its folder, even one named as an
    entry or as the marker, is someone else's. Pruning removes none, follows none."""
    folder, outside = tmp_path / "cache", tmp_path / "outside"
    folder.mkdir(mode=0o700)
    outside.mkdir()
    kept = outside / "kept"
    kept.write_bytes(b"not the cache's")
    os.utime(kept, (0, 0))
    (folder / ".pruned").symlink_to(outside / "made")  # a marker that points away
    (folder / ("a" * 64)).symlink_to(kept)  # named as an entry
    (folder / f".{'b' * 64}.1.1").symlink_to(kept)  # named as a temporary file
    for name in ("a" * 64, f".{'b' * 64}.1.1"):
        os.utime(folder / name, (0, 0), follow_symlinks=False)
    ParseCache(folder, b"k" * 32, b"fingerprint").prune(now=parsecache.MAX_AGE * 10)
    assert sorted(os.listdir(outside)) == ["kept"] and os.stat(kept).st_mtime == 0
    assert {"a" * 64, f".{'b' * 64}.1.1", ".pruned"} <= set(os.listdir(folder))


def test_a_marker_from_the_future_does_not_stop_pruning_for_good(tmp_path: Path) -> None:
    # A clock once set years ahead stamped .pruned then: pruning must not wait for that year.
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    stale = folder / ("0" * 64)
    stale.write_bytes(b"an entry of long ago")
    os.utime(stale, (0, 0))
    now = parsecache.MAX_AGE * 10
    (folder / ".pruned").write_bytes(b"")
    os.utime(folder / ".pruned", (now + 365 * parsecache.DAY,) * 2)
    assert ParseCache(folder, b"k" * 32, b"fingerprint").prune(now=now) == 1 and not stale.exists()

"""Definition files as read before, kept by their content, for ``validate`` and ``plan``.

Reading YAML is most of loading 10,000 definitions, and a file read once reads the same
until its bytes change. An entry holds what :func:`wfsync.yamlsource.read_yaml` made of
one file: its values as written (before any ``${NAME}`` or ``${var.NAME}`` is filled in,
so no value from the environment is ever stored), the strings holding a ``$``, and the
places of the titles and schedules that every definition carries. Everything after the
reading (interpolation, the schema, the checks) runs afresh each time; a location the
entry lacks (a problem's) makes the document read the file again, exactly as without a
cache.

A cache is input too, so it is trusted only as far as it can be:

- it lives outside the repository, in ``$XDG_CACHE_HOME/wfsync/`` (``~/.cache/wfsync/``),
  a folder of this user's alone (0700, files 0600): a pull request cannot write there;
- each entry is named by the hash of the file's bytes and of everything that shapes the
  reading (wfsync's reader code, PyYAML, Python), and sealed with an HMAC under a key
  of this user's that never leaves that folder: an entry that fails its seal, or does not
  decode, is ignored, never an error and never trusted;
- ``apply`` never reads it: what is applied is always read from the files themselves.

It does not grow for good: an entry unused for MAX_AGE (each use refreshes it, at most
once a day) is removed, looked for at most once a day (``.pruned`` says when), and so are
temporary files a writer that died left behind.

``WFSYNC_CACHE=off`` turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import stat
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfsync.yamlsource import Document, read_yaml

__all__ = ["Entry", "Kept", "ParseCache", "user_cache"]

_KEY_BYTES = 32
_MAC_BYTES = hashlib.sha256().digest_size
DAY = 86_400.0
MAX_AGE = 30 * DAY  # an entry unused this long is removed
_PRUNED = ".pruned"  # its time says when entries were last looked over


def _kept_marks(document: Document) -> list[list[Any]]:
    """``[*path, line, column]`` of the places every definition is built with (its title's,
    its schedules'): kept, so that a file with no problem is never read again for them.
    Looked up entry by entry, not by a walk over every place the file has."""
    entries = document.value.get("workflows") if isinstance(document.value, dict) else None
    if not isinstance(entries, list):
        return []
    marks, places = [], document.values
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        paths: list[tuple[Any, ...]] = [("workflows", index, "title")]
        if isinstance(entry.get("schedules"), list):
            paths += [("workflows", index, "schedules", n) for n in range(len(entry["schedules"]))]
        marks += [[*path, *places[path]] for path in paths if path in places]
    return marks


class ParseCache:
    """Documents read before, by the content of their file (see the module's docstring)."""

    def __init__(self, folder: Path, key: bytes, fingerprint: bytes) -> None:
        self.folder, self._key, self._fingerprint = folder, key, fingerprint

    def _name(self, data: bytes) -> str:
        return hashlib.sha256(self._fingerprint + hashlib.sha256(data).digest()).hexdigest()

    def _seal(self, name: str, payload: bytes) -> bytes:
        return hmac.digest(self._key, name.encode() + b"\0" + payload, "sha256")

    def get(self, file: str, data: bytes) -> Kept | None:
        """The document ``data`` read as before, or None (not kept, or not trusted)."""
        name = self._name(data)
        try:
            with open(self.folder / name, "rb") as handle:
                entry = handle.read()
                unused = time.time() - os.fstat(handle.fileno()).st_mtime
        except OSError:
            return None
        if unused > DAY:  # in use: not pruned (its time refreshed once a day at most)
            with contextlib.suppress(OSError):
                os.utime(self.folder / name)
        payload = entry[_MAC_BYTES:]
        if len(entry) < _MAC_BYTES or not hmac.compare_digest(entry[:_MAC_BYTES], self._seal(name, payload)):
            return None
        try:
            kept = json.loads(payload)
            marks = {tuple(path): (line, column) for *path, line, column in kept["marks"]}
            dollars = [tuple(path) for path in kept["dollars"]]
            value, checked = kept["value"], kept["checked"] is True
        except (ValueError, TypeError, KeyError):
            return None
        document = Document(file, value, marks, {}, dollars=dollars)
        document.reread = functools.partial(_exact_places, file, data)
        return Kept(document, checked)

    def entry(self, document: Document, data: bytes) -> Entry | None:
        """An entry for ``document``, read from ``data``, taken now, before its values
        change; None when it cannot be kept (a problem in the reading)."""
        if document.problems or document.reread is not None:
            return None
        marks = _kept_marks(document)
        try:
            value = json.dumps(document.value, separators=(",", ":"), allow_nan=True)
            dollars = json.dumps(document.dollars)
        except (TypeError, ValueError):  # a value JSON does not hold: not kept
            return None
        return Entry(self, data, f'{{"value":{value},"marks":{json.dumps(marks)},"dollars":{dollars},')

    def prune(self, now: float | None = None) -> int:
        """Remove the entries unused for MAX_AGE, and temporary files over a day old, if
        not done in the last day; how many were removed. Best effort, never an error."""
        now = time.time() if now is None else now
        marker = self.folder / _PRUNED
        try:
            if 0 <= now - marker.stat().st_mtime < DAY:  # one in the future: a clock once ahead
                return 0
        except FileNotFoundError:
            pass
        except OSError:
            return 0
        removed = 0
        with contextlib.suppress(OSError):
            # Not followed if a symlink: nothing outside the folder is made or touched.
            descriptor = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                os.utime(descriptor, (now, now))
            finally:
                os.close(descriptor)
            with os.scandir(self.folder) as found:
                for item in found:
                    if _is_entry(item.name):
                        limit = MAX_AGE
                    elif item.name.startswith(".") and _is_entry(item.name[1:].split(".")[0]):
                        limit = DAY  # a temporary file (see _put)
                    else:
                        continue  # the key, the marker: never
                    with contextlib.suppress(OSError):
                        if not item.is_file(follow_symlinks=False):
                            continue  # a symlink, a folder: never made by the cache
                        if now - item.stat(follow_symlinks=False).st_mtime > limit:
                            os.unlink(item.path)
                            removed += 1
        return removed

    def _put(self, data: bytes, payload: bytes) -> None:
        name = self._name(data)
        temporary = self.folder / f".{name}.{os.getpid()}.{threading.get_ident()}"
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(self._seal(name, payload) + payload)
            os.replace(temporary, self.folder / name)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


@dataclass(frozen=True)
class Kept:
    """A document read before; ``checked``: the schema passed it with only strings able to
    tell on their own at its references (wfsync.definitions)."""

    document: Document
    checked: bool


@dataclass(frozen=True)
class Entry:
    """A document taken as read, kept once the loader knows whether it is ``checked``."""

    cache: ParseCache
    data: bytes
    start: str  # the JSON object, less its last member

    def keep(self, *, checked: bool) -> None:
        """Write the entry; best effort."""
        self.cache._put(self.data, f'{self.start}"checked":{json.dumps(checked)}}}'.encode())


def _is_entry(name: str) -> bool:
    """An entry's name: the 64 hex digits of a SHA-256."""
    return len(name) == 64 and all(character in "0123456789abcdef" for character in name)


def _exact_places(file: str, data: bytes) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Every place in the file, read again as without a cache."""
    document = read_yaml(file, data)
    return document.values, document.keys


def _fingerprint() -> bytes:
    """What shapes an entry besides the file: wfsync's reader and loader, the schemas
    (an entry says whether they passed it), PyYAML, Python."""
    from wfsync import __version__, definitions, schema

    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0".encode())
    digest.update(_pyyaml())
    # The reader proper is not imported (PyYAML) when every file is found here.
    here = Path(__file__).parent
    readers = (here / "yamlsource.py", here / "yamlcompose.py", here / "yamlfast.py")
    for file in (*readers, definitions.__file__, schema.__file__, __file__):
        digest.update(Path(str(file)).read_bytes())
    for path in sorted(schema.SCHEMA_DIR.glob("*.json")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


def _pyyaml() -> bytes:
    """PyYAML as installed, found without importing it (a fifth of a cached run's start-up,
    when no file needs reading): its version (in its __init__) and its C extension, if any."""
    import importlib.util

    spec = importlib.util.find_spec("yaml")
    if spec is None or spec.origin is None:
        return b"no PyYAML"
    package = Path(spec.origin)
    extensions = sorted(path.name for path in package.parent.glob("_yaml*") if path.suffix != ".py")
    return package.read_bytes() + "\0".join(extensions).encode()


def _own_folder(folder: Path, *, private: bool) -> bool:
    """True when ``folder`` is this user's and no one else may write in it (nor, when
    ``private``, read it); created so when missing."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.lstat()
    others = (stat.S_IRWXG | stat.S_IRWXO) if private else (stat.S_IWGRP | stat.S_IWOTH)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & others


def _user_key(folder: Path) -> bytes | None:
    """This user's key for sealing entries, made once; None when it cannot be trusted."""
    path = folder / "key"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(os.urandom(_KEY_BYTES))
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        key = handle.read(_KEY_BYTES + 1)
    private = stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()
    if not private or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO) or len(key) != _KEY_BYTES:
        return None
    return key


def user_cache(environ: Any = None) -> ParseCache | None:
    """This user's cache of read definition files, or None (turned off, or unusable)."""
    environ = os.environ if environ is None else environ
    if environ.get("WFSYNC_CACHE", "").lower() in ("off", "0", "no", "false"):
        return None
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):  # the XDG rule: a relative path is ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "wfsync" / "definitions"
    try:
        # wfsync/ holds apply's locks too (wfsync.lock makes it with the usual 0755).
        if not (_own_folder(folder.parent, private=False) and _own_folder(folder, private=True)):
            return None
        key = _user_key(folder)
        if key is None:
            return None
        cache = ParseCache(folder, key, _fingerprint())
        cache.prune()
        return cache
    except OSError:
        return None

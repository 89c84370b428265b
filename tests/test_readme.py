"""The README works for a newcomer who copies its commands verbatim, in a fresh clone.

Each ``sh`` block runs as written in bash, on a stand-in for a fresh machine: ``wfsync`` is
on no PATH until ``python3.11 -m venv .venv`` and ``. .venv/bin/activate`` (or
``.venv/bin/wfsync``) put it there, as for a newcomer. The venv made is a shim (no
network in tests): its ``pip`` accepts only the installs the README shows, its ``wfsync``
is this checkout's, its ``pytest`` stands for the suite that is running. Every block runs
on its own (in the activated venv, as the README says), and all of them in order in one
shell, as a newcomer reads them.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES_README = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")

# `python3.11` on the stand-in machine: `-m venv DIR` makes the shim venv, anything else
# is this interpreter.
PYTHON_SHIM = f"""#!/bin/bash
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  bin="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")/bin"
  mkdir -p "$bin"
  printf 'export PATH="%s:$PATH"\\n' "$bin" > "$bin/activate"
  printf '#!/bin/bash\\nexec {sys.executable} -m wfsync "$@"\\n' > "$bin/wfsync"
  printf '#!/bin/bash\\nexit 0\\n' > "$bin/pytest"
  cat > "$bin/pip" <<'PIP'
#!/bin/bash
case "$*" in
  "install ."|"install -e .[test]") exit 0 ;;
  *) echo "pip shim: the README's installs are 'pip install .' and 'pip install -e .[test]', not: $*" >&2
     exit 2 ;;
esac
PIP
  chmod +x "$bin"/*
  exit 0
fi
exec {sys.executable} "$@"
"""


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL)


BLOCKS = shell_blocks(README)
EXAMPLE_BLOCKS = shell_blocks(EXAMPLES_README)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fresh_machine(folder: Path) -> dict[str, str]:
    """A clone of the repository's files a newcomer uses in ``folder``; the environment."""
    for name in ("examples", "schemas"):
        shutil.copytree(ROOT / name, folder / name, dirs_exist_ok=True)
    shims = folder.parent / f"{folder.name}-bin"
    shims.mkdir(exist_ok=True)
    (shims / "python3.11").write_text(PYTHON_SHIM, encoding="utf-8")
    (shims / "python3.11").chmod(0o755)
    # No wfsync anywhere on the PATH: only the venv's activation brings it.
    system = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not (Path(entry) / "wfsync").exists()  # the shims come first: their python3.11
    ]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WFSYNC_", "INDIGENIUS_", "CRM_", "LEAD_", "VIRTUAL_ENV"))
    }
    return env | {
        "PATH": os.pathsep.join([str(shims), *system]),
        "HOME": str(folder),
        "WFSYNC_LOCK_DIR": str(folder / "locks"),
        "NO_COLOR": "1",
    }


def run(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    env = fresh_machine(folder)
    script = "set -euo pipefail\n" + script.replace("8787", str(free_port()))
    return subprocess.run(
        ["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )


ACTIVATED = "python3.11 -m venv .venv && . .venv/bin/activate\n"


def test_the_readme_has_its_commands() -> None:
    assert len(BLOCKS) >= 5 and EXAMPLE_BLOCKS


@pytest.mark.parametrize(
    "block", BLOCKS + EXAMPLE_BLOCKS, ids=[b.splitlines()[0][:40] for b in BLOCKS + EXAMPLE_BLOCKS]
)
def test_every_block_runs_as_shown(block: str, tmp_path: Path) -> None:
    folder = tmp_path / "clone"
    folder.mkdir()
    done = run(ACTIVATED + block, folder)
    assert done.returncode == 0, f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert "Traceback" not in done.stderr


def test_all_blocks_in_order_in_one_shell_as_a_newcomer_reads_them(tmp_path: Path) -> None:
    folder = tmp_path / "clone"
    folder.mkdir()
    done = run("\n".join(BLOCKS), folder)
    assert done.returncode == 0, f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert "Traceback" not in done.stderr


def test_the_stand_in_machine_has_no_wfsync_before_the_venv(tmp_path: Path) -> None:
    folder = tmp_path / "clone"
    folder.mkdir()
    assert run("wfsync --version", folder).returncode == 127
    assert run(".venv/bin/wfsync --version", folder).returncode == 127
    assert run("python3.11 -m venv .venv && .venv/bin/wfsync --version", folder).returncode == 0
    assert run("python3.11 -m venv .venv && .venv/bin/pip install wfsync", folder).returncode == 2


def test_the_tour_ends_in_sync(tmp_path: Path) -> None:
    (tour,) = [b for b in BLOCKS if b.startswith("wfsync init tour")]
    folder = tmp_path / "clone"
    folder.mkdir()
    done = run(ACTIVATED + tour, folder)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Plan: 1 to create, 0 to update, 0 to cancel, 1 to schedule, 0 to delete." in out
    assert "Apply complete: 1 created, 0 updated, 0 cancelled, 1 scheduled, 0 deleted, 0 failed." in out
    assert "completed." in out and "totalJobs" in out
    assert out.rstrip().endswith("No changes: the live workflows match the definitions.")


# Named in the README but made by its commands, or not files: a URL path, a zone, a pattern.
NOT_IN_THE_CLONE = {
    # Made by wfsync as it runs, or not files at all.
    ".wfsync/",
    ".wfsync/sandbox.db",
    ".wfsync/sandbox-NAME.db",
    ".wfsync/normalised.json",
    "[y/N]",
    "~/.cache/wfsync/locks",
    "/openapi.json",
    "Europe/Berlin",
    "tests/test_<module>.py",
    "*.yaml",
    "*.yml",
}


def test_every_file_the_readme_names_is_there() -> None:
    named = set(re.findall(r"`([^`\s]+)`", README))
    paths = {
        token
        for token in named
        if ("/" in token or re.search(r"\.(ya?ml|md|json|py|txt|toml)$", token))
        and "://" not in token
        and "?" not in token
    }
    missing = sorted(
        token
        for token in paths - NOT_IN_THE_CLONE
        if not (ROOT / token).exists() and not (ROOT / "examples" / token).exists()
    )
    assert missing == []

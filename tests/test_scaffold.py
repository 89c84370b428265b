"""`wfsync init`: the pipeline written from the settings (least privilege, a pinned install,
a matrix of environments), the .gitignore, a pre-commit hook that installs itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from wfsync import __version__
from wfsync.cli import main
from wfsync.errors import ConfigError
from wfsync.pipeline import SOURCE, read_targets, references, render_pipeline
from wfsync.scaffold import starter_files

ROOT = Path(__file__).parent.parent
SECRET = re.compile(r"\$\{\{\s*secrets")


def load(text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(text)
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


@pytest.fixture
def pipeline() -> dict[str, Any]:
    return load(starter_files()[".github/workflows/wfsync.yml"])


def test_wfsync_is_installed_from_one_pinned_setting(pipeline: dict[str, Any]) -> None:
    assert pipeline["env"]["WFSYNC_INSTALL"] == f"wfsync @ git+{SOURCE}@v{__version__}"
    installs = [
        s for job in pipeline["jobs"].values() for s in job["steps"] if s.get("name") == "Install wfsync"
    ]
    assert installs and all(s["run"] == 'pip install "$WFSYNC_INSTALL"' for s in installs)
    text = starter_files()[".github/workflows/wfsync.yml"]
    assert "pip install wfsync" not in text
    setups = [
        s for job in pipeline["jobs"].values() for s in job["steps"] if "setup-python" in s.get("uses", "")
    ]
    assert all(s["with"]["cache"] == "pip" for s in setups)


def test_secrets_only_on_the_steps_that_call_the_api(pipeline: dict[str, Any]) -> None:
    assert not any(SECRET.search(str(v)) for v in pipeline["env"].values())
    assert pipeline["permissions"] == {}
    for name, job in pipeline["jobs"].items():
        assert "permissions" in job, name
        assert not SECRET.search(str(job.get("env", ""))), name
        for step in job["steps"]:
            if SECRET.search(str(step.get("env", ""))):
                assert (
                    "wfsync plan" in step["run"]
                    or "wfsync apply" in step["run"]
                    or "wfsync ci notify" in step["run"]
                    or "wfsync status" in step["run"]
                ), (name, step.get("name"))
    assert pipeline["jobs"]["validate"]["permissions"] == {"contents": "read"}
    assert pipeline["jobs"]["plan"]["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "pull-requests" not in pipeline["jobs"]["drift"]["permissions"]
    assert pipeline["jobs"]["drift"]["permissions"]["issues"] == "write"
    validate_env = [step.get("env") for step in pipeline["jobs"]["validate"]["steps"]]
    assert validate_env == [None] * len(validate_env), "validating needs no secret"


def test_the_paths_filter_covers_what_changes_a_plan(pipeline: dict[str, Any]) -> None:
    for event in ("pull_request", "push"):
        assert pipeline["on"][event]["paths"] == [
            "workflows/**",
            "wfsync.yaml",
            "schemas/**",
            ".github/workflows/wfsync.yml",
        ]


def test_apply_is_gated(pipeline: dict[str, Any]) -> None:
    apply = pipeline["jobs"]["apply"]
    assert "github.ref == 'refs/heads/main'" in apply["if"]
    assert apply["environment"] == "${{ matrix.environment }}"
    assert apply["concurrency"] == {"group": "wfsync-apply-${{ matrix.name }}", "cancel-in-progress": False}
    assert apply["strategy"]["max-parallel"] == 1
    assert "github.ref != 'refs/heads/main'" in pipeline["jobs"]["refuse"]["if"]


def test_environments_become_a_matrix() -> None:
    settings = {
        "paths": ["flows", "extra/one.yaml"],
        "environments": {"staging": {"api_key_env": "STAGING_KEY"}, "acme-prod": {}},
    }
    text = render_pipeline(Path("/nonexistent"), settings, ["HOOK_TOKEN"])
    data = load(text)
    matrix = data["jobs"]["plan"]["strategy"]["matrix"]["include"]
    assert [(m["name"], m["args"], m["key_env"], m["marker"]) for m in matrix] == [
        ("staging", "--env staging", "STAGING_KEY", "<!-- wfsync-plan:staging -->"),
        ("acme-prod", "--env acme-prod", "ACME_PROD_WFSYNC_KEY", "<!-- wfsync-plan:acme-prod -->"),
    ]
    assert data["on"]["push"]["paths"][:2] == ["flows/**", "extra/one.yaml"]
    status = data["jobs"]["status"]["steps"][-2]
    assert status["run"] == "wfsync status --env '*' --html wfsync-status.html"
    assert set(status["env"]) == {"STAGING_KEY", "ACME_PROD_WFSYNC_KEY", "HOOK_TOKEN"}


@pytest.mark.parametrize(
    ("environments", "message"),
    [
        ({"a b": {}}, "is not a plain name"),
        ({"$(id)": {}}, "is not a plain name"),
        ({"ok": {"api_key_env": "X; rm -rf /"}}, "is not a variable name"),
        (["staging"], "must be a mapping"),
    ],
)
def test_names_that_would_reach_a_shell_are_refused(environments: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        read_targets({"environments": environments})


def test_secrets_are_the_references_of_values_not_comments() -> None:
    text = (
        "# ${IN_A_COMMENT}\nworkflows:\n  - title: a $${LITERAL}\n    webhook: {url: 'https://h/${HOOK}'}\n"
    )
    assert references(text) == {"HOOK"}
    assert references("workflows: [") == set()


def test_init_writes_a_gitignore_and_a_self_installing_hook(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0
    ignore = (tmp_path / ".gitignore").read_text().splitlines()
    assert ".wfsync/" in ignore and "plan*.json" in ignore and "plan*.md" in ignore
    hooks = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())
    (repo,) = hooks["repos"]
    assert repo == {"repo": SOURCE, "rev": f"v{__version__}", "hooks": [{"id": "wfsync-validate"}]}
    (offered,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert offered["language"] == "python" and offered["entry"] == "wfsync validate"


def test_init_pipeline_writes_it_again_from_the_settings(tmp_path: Path) -> None:
    CliRunner().invoke(main, ["init", str(tmp_path)], catch_exceptions=False)
    (tmp_path / "workflows" / "more.yaml").write_text(
        "workflows:\n  - title: More\n    webhook: {url: 'https://h.example.com/${MORE_TOKEN}'}\n"
    )
    refused = CliRunner().invoke(main, ["init", str(tmp_path), "--pipeline"])
    assert refused.exit_code == 1 and "nothing was written" in refused.output
    done = CliRunner().invoke(main, ["init", str(tmp_path), "--pipeline", "--force"], catch_exceptions=False)
    assert done.exit_code == 0
    text = (tmp_path / ".github/workflows/wfsync.yml").read_text()
    assert "MORE_TOKEN: ${{ secrets.MORE_TOKEN }}" in text and "LEAD_HOOK_TOKEN" in text
    lone_force = CliRunner().invoke(main, ["init", str(tmp_path), "--force"])
    assert lone_force.exit_code == 1 and "init never overwrites" in lone_force.output


def test_broken_settings_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "wfsync.yaml").write_text("paths: [\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path), "--pipeline"])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_ci_fit_and_notify_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text(
        "<!-- wfsync-plan -->\n### head\n<details>\n```diff\n" + "+ x\n" * 30000 + "```\n</details>\n"
    )
    result = CliRunner().invoke(main, ["ci", "fit", str(plan), "--note", "See the artifact."])
    assert result.exit_code == 0 and len(result.output) <= 65_536 and "See the artifact." in result.output
    monkeypatch.delenv("WFSYNC_NOTIFY_URL", raising=False)
    saved = tmp_path / "plan.json"
    saved.write_text('{"format_version": 1, "changes": []}')
    unset = CliRunner().invoke(main, ["ci", "notify", str(saved), "--state-file", str(tmp_path / "s")])
    assert unset.exit_code == 1 and "WFSYNC_NOTIFY_URL must be set" in unset.output
    monkeypatch.setenv("WFSYNC_NOTIFY_URL", "https://hooks.example.com/secret-path-77")
    for content in ("[1]", "{nope", '{"environments": [{"name": "a"}]}'):
        saved.write_text(content)
        bad = CliRunner().invoke(main, ["ci", "notify", str(saved), "--state-file", str(tmp_path / "s")])
        assert bad.exit_code == 1 and "plan" in bad.output and "secret-path-77" not in bad.output
    saved.write_text('{"format_version": 1, "changes": []}')
    quiet = CliRunner().invoke(main, ["ci", "notify", str(saved), "--state-file", str(tmp_path / "s")])
    assert quiet.exit_code == 0 and "nobody was told" in quiet.output


@pytest.mark.parametrize("environments", [{}, {"staging": {}, "acme-prod": {"api_key_env": "ACME_KEY"}}])
def test_every_run_step_passes_shellcheck(environments: dict[str, Any]) -> None:
    """What actionlint checks in `run:` steps (it runs shellcheck with `${{ }}` replaced)."""
    import os
    import shutil
    import subprocess

    if not shutil.which("shellcheck"):
        if os.environ.get("CI") == "true":
            pytest.fail("shellcheck is missing (apt-get install shellcheck)")
        pytest.skip("shellcheck is missing")
    text = render_pipeline(Path("/nonexistent"), {"environments": environments}, ["HOOK_TOKEN"])
    for name, job in load(text)["jobs"].items():
        for step in job["steps"]:
            if "run" in step:
                script = re.sub(r"\$\{\{.*?\}\}", "placeholder", step["run"])
                found = subprocess.run(
                    ["shellcheck", "-s", "bash", "-"], input=script, capture_output=True, text=True
                )
                assert found.returncode == 0, (name, step.get("name"), found.stdout)


def _actionlint() -> str:
    """The actionlint of the test extra: beside this Python (CI runs the venv's pytest without
    activating it), else on PATH. In CI a missing actionlint fails rather than skips."""
    import os
    import shutil
    import sys

    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("actionlint is missing (pip install -e '.[test]')")
    pytest.skip("actionlint is missing")


@pytest.mark.parametrize("environments", [{}, {"staging": {}, "acme-prod": {"api_key_env": "ACME_KEY"}}])
def test_the_pipeline_passes_actionlint(environments: dict[str, Any], tmp_path: Path) -> None:
    """Every finding fails, warnings included: an action whose runtime GitHub retired
    (actions/checkout@v4 and the others on node20) is one."""
    import subprocess

    workflow = tmp_path / ".github" / "workflows" / "wfsync.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        render_pipeline(Path("/nonexistent"), {"environments": environments}, ["HOOK_TOKEN"]),
        encoding="utf-8",
    )
    found = subprocess.run(
        [_actionlint(), "-oneline", "-no-color", str(workflow)], capture_output=True, text=True, cwd=tmp_path
    )
    assert (found.returncode, found.stdout, found.stderr) == (0, "", "")


def test_the_action_installs_python_as_the_pipeline_does(pipeline: dict[str, Any]) -> None:
    """actionlint reads workflows, not action.yml: its setup-python follows the pipeline's."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    used = {s["uses"] for s in action["runs"]["steps"] if "uses" in s}
    setups = {
        s["uses"]
        for job in pipeline["jobs"].values()
        for s in job["steps"]
        if "setup-python" in s.get("uses", "")
    }
    assert len(setups) == 1 and setups <= used

"""The confirmation prompt, at a real terminal: one Ctrl-C aborts at once with exit 130,
``yes`` typed out for risky plans, nothing but an approval approves."""

from __future__ import annotations

import asyncio
import io

import pytest

from tests.terminal import Terminal, python
from wfsync.cli.prompt import (
    HANDFUL,
    SHOWN_DELETES,
    Interrupted,
    apply_question,
    confirm,
    confirm_async,
    deletion_text,
    needs_typed_yes,
)

# A command as the apply command uses the prompt: plan in one event loop, ask outside any
# loop, apply in another. The sync variant.
OUTSIDE_THE_LOOP = """
import asyncio, sys, click
from wfsync.cli.prompt import confirm

@click.command()
@click.option("--typed", is_flag=True)
def main(typed):
    asyncio.run(asyncio.sleep(0))
    ok = confirm("Apply 3 changes to sandbox?", typed=typed, out=sys.stdout)
    click.echo(f"answer={ok}")

main()
"""

# The async variant, asked from inside asyncio.run (where click.confirm in a thread lost
# the first Ctrl-C to the loop's own SIGINT handling).
INSIDE_THE_LOOP = """
import asyncio, sys, click
from wfsync.cli.prompt import confirm_async

@click.command()
@click.option("--typed", is_flag=True)
def main(typed):
    async def run():
        ok = await confirm_async("Apply 3 changes to sandbox?", typed=typed, out=sys.stdout)
        click.echo(f"answer={ok}")
        await asyncio.sleep(0)
        return ok
    asyncio.run(run())

main()
"""


@pytest.mark.parametrize("code", [OUTSIDE_THE_LOOP, INSIDE_THE_LOOP], ids=["sync", "async"])
def test_one_ctrl_c_aborts_at_once_with_exit_130(code: str) -> None:
    with Terminal(python(code)) as term:
        term.expect("[y/N]: ")
        term.send("\x03")
        assert term.wait() == 130, term.text
    assert "interrupted: nothing was changed" in term.text
    assert "answer=" not in term.text and "Traceback" not in term.text


@pytest.mark.parametrize("code", [OUTSIDE_THE_LOOP, INSIDE_THE_LOOP], ids=["sync", "async"])
def test_ctrl_c_after_typing_part_of_an_answer_aborts_too(code: str) -> None:
    with Terminal([*python(code), "--typed"]) as term:
        term.expect("Enter a value: ")
        term.send("ye")
        term.expect("ye", after=len(term.output))
        term.send("\x03")
        assert term.wait() == 130
    assert "answer=" not in term.text


@pytest.mark.parametrize(
    ("flag", "typed", "approved"),
    [
        ("", "y\r", True),
        ("", "YES\r", True),
        ("", "\r", False),
        ("", "n\r", False),
        ("", "yy\r", False),
        ("--typed", "yes\r", True),
        ("--typed", "y\r", False),
        ("--typed", "Yes\r", False),
        ("--typed", "yes please\r", False),
    ],
)
@pytest.mark.parametrize("code", [OUTSIDE_THE_LOOP, INSIDE_THE_LOOP], ids=["sync", "async"])
def test_only_an_approval_approves(code: str, flag: str, typed: str, approved: bool) -> None:
    argv = [*python(code), flag] if flag else python(code)
    with Terminal(argv) as term:
        term.expect("Enter a value: " if flag else "[y/N]: ")
        term.send(typed)
        assert term.wait() == 0
    assert f"answer={approved}" in term.text


@pytest.mark.parametrize("code", [OUTSIDE_THE_LOOP, INSIDE_THE_LOOP], ids=["sync", "async"])
def test_end_of_input_is_a_no(code: str) -> None:
    with Terminal(python(code)) as term:
        term.expect("[y/N]: ")
        term.send("\x04")  # Ctrl-D on an empty line
        assert term.wait() == 0
    assert "answer=False" in term.text


def test_typed_prompt_says_what_it_accepts() -> None:
    out = io.StringIO()
    assert confirm("Apply 9 changes to sandbox?", typed=True, out=out, stdin=io.StringIO("yes\n"))
    assert out.getvalue() == (
        "Apply 9 changes to sandbox?\n  Only 'yes' will be accepted to approve.\n  Enter a value: "
    )


def test_confirm_refuses_to_block_a_running_event_loop() -> None:
    async def inside() -> bool:
        return confirm("Apply?", typed=False, out=io.StringIO(), stdin=io.StringIO("y\n"))

    with pytest.raises(RuntimeError, match="confirm_async"):
        asyncio.run(inside())


def test_interrupted_exits_130() -> None:
    assert Interrupted().exit_code == 130
    assert str(Interrupted()) == "interrupted: nothing was changed"


def counts(**given: int) -> dict[str, int]:
    return {action: 0 for action in ("create", "update", "cancel", "schedule", "delete")} | given


def test_a_handful_of_changes_asks_y_n_one_more_asks_for_yes() -> None:
    for total in range(HANDFUL + 1):
        assert not needs_typed_yes(counts(create=total))
    assert needs_typed_yes(counts(create=HANDFUL + 1))
    assert needs_typed_yes(counts(create=2, update=2, schedule=1, cancel=2))
    assert not needs_typed_yes(counts())


def test_any_delete_asks_for_yes() -> None:
    assert needs_typed_yes(counts(delete=1))
    assert needs_typed_yes({"delete": 1})


def test_the_question_counts_in_good_grammar() -> None:
    assert apply_question(1, "sandbox") == "Apply 1 change to sandbox?"
    assert apply_question(1200, "https://api.indigenius.ai") == (
        "Apply 1,200 changes to https://api.indigenius.ai?"
    )


def test_the_deletion_text_names_what_is_deleted() -> None:
    assert deletion_text([]) == ""
    assert deletion_text([("Old survey", "65f0000000000000000000aa")]) == (
        "This deletes 1 live workflow with its pending runs:\n  - 'Old survey' (id 65f0000000000000000000aa)"
    )
    many = [(f"W{n}", f"id{n}") for n in range(SHOWN_DELETES + 3)]
    text = deletion_text(many)
    assert text.startswith(f"This deletes {SHOWN_DELETES + 3} live workflows with their pending runs:")
    assert f"'W{SHOWN_DELETES - 1}'" in text and f"'W{SHOWN_DELETES}'" not in text
    assert text.endswith("… and 3 more (listed in the plan above)")


@pytest.mark.parametrize(
    ("typed_ahead", "approved"), [(b"yes\nno\n", True), (b"no\nyes\n", False), (b"", False)]
)
def test_confirm_async_takes_the_first_line_of_a_paste(typed_ahead: bytes, approved: bool) -> None:
    import os

    read, write = os.pipe()
    os.write(write, typed_ahead)
    os.close(write)
    with open(read, encoding="utf-8") as stdin:
        out = io.StringIO()
        assert asyncio.run(confirm_async("Apply?", typed=True, out=out, stdin=stdin)) is approved
    assert out.getvalue().endswith("Enter a value: " + ("\n" if not typed_ahead else ""))

"""A plan cut to fit a GitHub comment: unchanged when it fits, else counts first, whole lines,
closed blocks and a note pointing to the full plan."""

from __future__ import annotations

import pytest

from wfsync.comment import GITHUB_LIMIT, fit, fit_text
from wfsync.plan import Create, Plan
from wfsync.render import MARKER, render_markdown


def plan_of_creates(count: int) -> str:
    changes = tuple(
        Create(
            f"Imported workflow number {n:04d}",
            None,
            {
                "title": f"Imported workflow number {n:04d}",
                "callbackUrl": f"https://crm.example.com/hooks/{n}",
                "webhook": {"url": f"https://crm.example.com/hooks/workflow/{n}"},
                "endCall": {"phrases": ["goodbye", "end call", "not interested"]},
            },
            {},
        )
        for n in range(count)
    )
    return render_markdown(Plan(changes=changes, live_count=0, api_url="https://api.example"))


def test_a_plan_that_fits_is_unchanged() -> None:
    text = plan_of_creates(3)
    fitted = fit(text)
    assert fitted.text == text and not fitted.cut


def test_a_thousand_creates_are_cut_under_the_limit_counts_first() -> None:
    text = plan_of_creates(1000)
    assert len(text) > 3 * GITHUB_LIMIT  # what GitHub would refuse
    fitted = fit(text, note="Download the artifact wfsync-plan-default.")
    body = fitted.text
    assert len(body) <= GITHUB_LIMIT
    assert fitted.cut and fitted.dropped_lines > 0
    lines = body.splitlines()
    assert lines[0] == MARKER and "1000 to create" in lines[1]  # the counts come first
    assert body.count("```") % 2 == 0, "the code block it cut through is closed"
    assert body.count("<details") == body.count("</details>")
    assert body.rstrip().endswith("Download the artifact wfsync-plan-default.")
    assert "of its" in lines[-1] and f"{fitted.dropped_lines:,} of its" in lines[-1]
    # whole lines only: every kept change line is one of the original's
    original = set(text.splitlines())
    assert all(line in original for line in lines[:-4] if line.startswith("+"))
    print(f"1,000 creates: {len(text):,} characters -> {len(body):,}; {fitted.dropped_lines:,} lines cut")


@pytest.mark.parametrize("limit", [300, 1000, 5000, 65_536])
def test_every_limit_is_kept(limit: int) -> None:
    fitted = fit(plan_of_creates(400), limit=limit)
    assert len(fitted.text) <= limit and fitted.text.startswith(MARKER)


def test_a_head_too_long_falls_back_to_characters() -> None:
    text = MARKER + "\n### " + "x" * 5000 + "\n<details>\n" + "y\n" * 10
    fitted = fit(text, limit=1000)
    assert len(fitted.text) <= 1000 and "Cut to fit" in fitted.text
    assert len(fit_text("z" * 10, limit=1000)) < 1000


def test_a_limit_without_room_is_refused() -> None:
    with pytest.raises(ValueError, match="no room"):
        fit("x" * 500, limit=100)

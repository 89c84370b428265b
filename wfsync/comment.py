"""A markdown plan cut to fit where it is posted: a pull-request comment or an issue body.

GitHub refuses a comment or issue body over 65,536 characters, and a first import of a
few hundred workflows makes a plan several times that. :func:`fit` keeps the head of the
plan (the marker line and the counts, which is what a reviewer reads first), then as many
whole lines of the details as fit, closes any code block and folded section it cut
through, and ends with a note saying how much was left out and where the full plan is.

>>> fit("<!-- m -->\\n### plan\\n", limit=100) == "<!-- m -->\\n### plan\\n"
True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GITHUB_LIMIT", "Fitted", "fit", "fit_text"]

# GitHub's limit on a comment or issue body, counted in characters.
GITHUB_LIMIT = 65_536

_DEFAULT_NOTE = "The full plan is attached to the run as an artifact."


@dataclass(frozen=True)
class Fitted:
    """The text to post, and how many lines of the original it left out (0: all of it)."""

    text: str
    dropped_lines: int

    @property
    def cut(self) -> bool:
        return self.dropped_lines > 0


def _closing(kept: list[str]) -> list[str]:
    """The lines that close the code fence and ``<details>`` sections ``kept`` leaves open."""
    fence = False
    details = 0
    for line in kept:
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = not fence
        elif not fence:
            details += stripped.count("<details") - stripped.count("</details>")
    return (["```"] if fence else []) + ["</details>"] * max(details, 0)


def _head_length(lines: list[str]) -> int:
    """How many lines are the head: everything before the first folded section."""
    for index, line in enumerate(lines):
        if line.startswith("<details"):
            return index
    return len(lines)


def fit(markdown: str, *, limit: int = GITHUB_LIMIT, note: str = _DEFAULT_NOTE) -> Fitted:
    """``markdown`` unchanged when it fits in ``limit`` characters, else cut to fit (see module)."""
    if limit < 200:
        raise ValueError(f"a limit of {limit} characters leaves no room for the plan's head")
    if len(markdown) <= limit:
        return Fitted(markdown, 0)
    lines = markdown.rstrip("\n").split("\n")
    head = _head_length(lines)
    total = len(lines)

    def render(kept: int) -> str:
        body = lines[:kept]
        dropped = total - kept
        tail = [
            *_closing(body),
            "",
            f"> **This plan was cut to fit a comment:** {dropped:,} of its {total:,} lines are "
            f"not shown. {note}",
        ]
        return "\n".join(body + tail) + "\n"

    # The longest prefix that fits, found by bisection over whole lines: the closing lines
    # and the note grow with what is cut, so the length is checked on the rendered text.
    low, high = 0, total - 1
    while low < high:
        middle = (low + high + 1) // 2
        if len(render(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    if low < head:
        # Not even the head fits (a pathological single line): cut characters instead.
        return Fitted(fit_text(markdown, limit=limit, note=note), total)
    return Fitted(render(low), total - low)


def fit_text(text: str, *, limit: int = GITHUB_LIMIT, note: str = _DEFAULT_NOTE) -> str:
    """``text`` cut to ``limit`` characters by characters, the note last (a last resort)."""
    tail = f"\n\n> **Cut to fit.** {note}\n"
    return text[: max(limit - len(tail), 0)] + tail

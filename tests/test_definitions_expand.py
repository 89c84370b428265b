"""The one-substitution path of interpolation gives what reading reference by reference gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wfsync.definitions import _expand, _expand_each

PIECES = [
    "${A}",
    "${B}",
    "${C}",
    "$${",
    "${",
    "}",
    "$",
    "x",
    "/",
    "${var.V}",
    "${var.W}",
    "${a b}",
    "${A",
    "{",
]
ENV = {"A": "alpha", "B": "", "C": "${A}"}  # B is empty: missing; C's value holds a reference


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=8).map("".join), st.booleans())
def test_one_substitution_is_reference_by_reference(text: str, require_env: bool) -> None:
    options = {"require_env": require_env, "vars_for": ""}
    assert _expand(text, ENV, {"V": "v"}, **options) == _expand_each(text, ENV, {"V": "v"}, **options)


def test_the_one_substitution_path_is_taken() -> None:
    result = _expand("https://h/${A}/${C}", ENV, {}, require_env=True, vars_for="")
    assert (result.value, result.template, result.secret) == (
        "https://h/alpha/${A}",
        "https://h/${A}/${C}",
        True,
    )

"""The pagination stop rule, without HTTP: a stated total is trusted only as far as the
pages keep delivering."""

from __future__ import annotations

import pytest

from wfsync.paging import next_pages


@pytest.mark.parametrize(
    ("sizes", "total", "expected"),
    [
        ([], None, 1),  # nothing read yet: ask for page 1
        ([0], None, 0),  # an empty first page: an empty account
        ([0], 50, 0),  # ...whatever the total says
        ([100], None, 1),  # a full page without a total: one more, one at a time
        ([100, 100], None, 1),
        ([100, 99], None, 0),  # one item short of a full page: the end
        ([100, 100, 0], None, 0),  # an empty page: the end
        ([7, 7, 7], None, 1),  # a server capping the limit at 7: its page size is 7
        ([7, 6], None, 0),
        ([100], 250, 1),  # a total: the pages it still promises, as many as received
        ([100, 100], 1000, 2),
        ([100] * 3, 1000, 3),
        ([100] * 20, 100_000, 8),  # ...at most a window of them
        ([100, 100], 250, 1),
        ([100, 100, 50], 250, 0),
        ([100, 100], 200, 0),  # the total reached
        ([3], 10**12, 1),  # a total of 10^12 beside 3 items: one page to see if 3 is all
        ([100, 40], 10**12, 0),  # a short page ends it whatever the total says
        ([100], 50, 0),  # a page beyond a too-small total: the total is reached
    ],
)
def test_next_pages(sizes: list[int], total: int | None, expected: int) -> None:
    assert next_pages(sizes, total=total, window=8) == expected


def test_requests_at_once_grow_with_the_pages_received() -> None:
    sizes, steps = [100], []
    while len(sizes) < 40 and (more := next_pages(sizes, total=10**12, window=8)):
        steps.append(more)
        sizes += [100] * more
    assert steps[:6] == [1, 2, 4, 8, 8, 8]

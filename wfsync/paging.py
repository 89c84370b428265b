"""When a paginated listing is whole: the stop rule, as a pure function.

A server's stated total is a claim, not a promise: it is trusted only as far as the pages
keep delivering. Page 1 shows the page size the server really serves (it may cap
``limit``); any later page shorter than that, or empty, ends the listing, whatever the
total says, and so does reaching the total. So a total of 10^12 beside three workflows
costs one more request, not 10^10. Pages asked for at once grow with the evidence
(1, 2, 4… full pages received, up to a window), so a lying total wastes few requests.

    >>> next_pages([100, 100], total=1000, window=8)
    2
    >>> next_pages([100, 99], total=None, window=8)
    0
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["next_pages"]


def next_pages(sizes: Sequence[int], *, total: int | None, window: int) -> int:
    """How many more pages to ask for at once (0: the listing is complete).

    ``sizes`` are the item counts of the pages received so far, in order; ``total`` is the
    total the server stated, if any. Without a total pages are asked one at a time (only
    a short page tells the end); with one, as many of those the total still promises as
    pages already received (at most ``window``), so a stated total speeds a listing up
    but never stretches it.
    """
    if not sizes:
        return 1
    full, last = sizes[0], sizes[-1]
    if full == 0 or last == 0 or last < full:
        return 0
    received = sum(sizes)
    if total is None:
        return 1
    if received >= total:
        return 0
    return max(1, min(window, len(sizes), math.ceil((total - received) / full)))

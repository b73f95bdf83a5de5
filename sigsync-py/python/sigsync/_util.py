"""Helpers shared by the pure-Python layer."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def awaitable(sync: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """An ``async`` twin of a blocking method.

    The blocking call runs in a worker thread (``asyncio.to_thread``); it releases the GIL
    while it waits on the network, so the event loop and other threads keep running.
    Cancelling the awaitable stops waiting for the result; the call itself runs to its end
    (an apply is never abandoned half-way).
    """

    @functools.wraps(sync)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(sync, *args, **kwargs)

    run.__name__ = f"{sync.__name__}_async"
    run.__qualname__ = f"{sync.__qualname__}_async"
    run.__doc__ = (
        f"Awaitable :meth:`{sync.__name__}` (runs in a worker thread; the call releases the GIL).\n\n"
        + (sync.__doc__ or "")
    )
    return run

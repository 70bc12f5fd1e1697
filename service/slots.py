"""Fair encoder slots: first come, first served, so a long batch cannot starve a search."""

from __future__ import annotations

import threading
from collections import deque


class FairSlots:
    """A counting semaphore that grants slots in arrival order (``threading.Semaphore``
    wakes an arbitrary waiter, and a thread that releases and re-acquires at once usually
    wins: a batch encoding chunk after chunk would keep the slot from everyone else)."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("at least one slot")
        self._free = slots
        self._lock = threading.Lock()
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float | None = None) -> bool:
        """Take a slot, waiting at most ``timeout`` seconds behind earlier callers."""
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return True
            turn = threading.Event()
            self._waiting.append(turn)
        if turn.wait(timeout):
            return True
        with self._lock:
            if turn.is_set():  # granted just as the wait ran out: keep it
                return True
            self._waiting.remove(turn)
            return False

    def release(self) -> None:
        """Give the slot to the longest waiter, or free it."""
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # handed over: the count does not change
            else:
                self._free += 1

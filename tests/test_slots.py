"""Fair encoder slots: arrival order, time-outs, hand-over (fast tier)."""

from __future__ import annotations

import threading
import time

from service.slots import FairSlots


def test_a_free_slot_is_taken_at_once() -> None:
    slots = FairSlots(2)
    assert slots.acquire(0) and slots.acquire(0)
    assert not slots.acquire(0.01)


def test_a_waiter_times_out_and_leaves_the_queue() -> None:
    slots = FairSlots(1)
    assert slots.acquire()
    assert not slots.acquire(0.05)
    slots.release()
    assert slots.acquire(0)  # the timed-out waiter did not keep a claim


def test_a_waiting_caller_goes_before_the_releaser_asking_again() -> None:
    slots = FairSlots(1)
    order: list[str] = []
    assert slots.acquire()

    def single_search() -> None:
        assert slots.acquire(5)
        order.append("search")
        slots.release()

    waiter = threading.Thread(target=single_search)
    waiter.start()
    time.sleep(0.05)  # the search is now queued behind the batch
    slots.release()  # the batch finishes a chunk …
    assert slots.acquire(5)  # … and asks again at once: the search went first
    order.append("batch")
    slots.release()
    waiter.join()
    assert order == ["search", "batch"]

"""Steered helpers: the second encoder's work runs off the CPU of the thread that hands it over."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from service.cpus import CpuSteering, SteeredHelpers

steering = CpuSteering.of_process()
needs_two_cpus = pytest.mark.skipif(
    not steering.active, reason="needs Linux with sched_getcpu and at least two CPUs"
)


def where() -> tuple[int | None, frozenset[int]]:
    return steering.current_cpu(), frozenset(os.sched_getaffinity(0))


def from_thread_on(cpu: int, call: Callable[[], Any]) -> Any:
    """``call()`` made by a new thread that runs on ``cpu`` only."""
    result: list[Any] = []

    def run() -> None:
        os.sched_setaffinity(0, {cpu})
        result.append(call())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


@needs_two_cpus
def test_helpers_run_on_another_cpu_than_each_caller() -> None:
    helpers = SteeredHelpers(2, "test-helper", steering)
    try:
        for _ in range(3):
            for cpu in sorted(steering.cpus):
                helper_cpu, helper_set = from_thread_on(cpu, lambda: helpers.submit(where).result())
                assert helper_set == steering.cpus - {cpu}
                assert helper_cpu != cpu
    finally:
        helpers.shutdown()


@needs_two_cpus
def test_a_caller_that_may_run_anywhere_keeps_its_own_cpus() -> None:
    helpers, first = SteeredHelpers(1, "test-helper", steering), min(steering.cpus)
    try:
        assert from_thread_on(first, lambda: helpers.submit(where).result())[0] != first
        assert frozenset(os.sched_getaffinity(0)) == steering.cpus  # this thread untouched
    finally:
        helpers.shutdown()


def test_inactive_steering_runs_the_work_where_the_kernel_likes() -> None:
    helpers = SteeredHelpers(1, "test-helper", CpuSteering())
    try:
        assert helpers.submit(where).result()[1] == frozenset(os.sched_getaffinity(0))
        assert helpers.submit(lambda a, b: a + b, 2, 3).result() == 5
    finally:
        helpers.shutdown()
    assert CpuSteering().current_cpu() is None


def test_an_error_in_the_work_reaches_the_caller() -> None:
    def fail() -> None:
        raise RuntimeError("boom")

    helpers = SteeredHelpers(1, "test-helper")
    try:
        with pytest.raises(RuntimeError, match="boom"):
            helpers.submit(fail).result()
        assert helpers.submit(lambda: "still serving").result() == "still serving"
    finally:
        helpers.shutdown()

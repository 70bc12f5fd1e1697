"""CPU steering: the second encoder's work runs off the CPU of the thread that handed it over."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.cpus import CpuSteering

steering = CpuSteering.of_process()
needs_two_cpus = pytest.mark.skipif(
    not steering.active, reason="needs Linux with sched_getcpu and at least two CPUs"
)


def where() -> tuple[int | None, frozenset[int]]:
    return steering.current_cpu(), frozenset(os.sched_getaffinity(0))


@needs_two_cpus
def test_the_work_runs_off_the_callers_cpu_and_the_thread_gets_every_cpu_back() -> None:
    def on_cpu(cpu: int) -> tuple[int | None, frozenset[int]]:
        os.sched_setaffinity(0, {cpu})  # the helper is on ``cpu`` for sure
        return steering.run_off(cpu, where)

    with ThreadPoolExecutor(max_workers=1) as helper:
        for cpu in sorted(steering.cpus):
            during_cpu, during_set = helper.submit(on_cpu, cpu).result()
            assert during_set == steering.cpus - {cpu}
            assert during_cpu != cpu
            assert helper.submit(where).result()[1] == steering.cpus


@needs_two_cpus
def test_work_elsewhere_is_left_where_it_is() -> None:
    other = next(iter(steering.cpus))
    os.sched_setaffinity(0, steering.cpus - {other})  # this thread cannot be on ``other``
    try:
        _, during_set = steering.run_off(other, where)
        assert during_set == steering.cpus - {other}
    finally:
        os.sched_setaffinity(0, steering.cpus)


def test_inactive_steering_and_an_unknown_cpu_just_run_the_work() -> None:
    assert CpuSteering().run_off(0, where)[1] == frozenset(os.sched_getaffinity(0))
    assert steering.run_off(None, lambda: "done") == "done"
    assert CpuSteering().current_cpu() is None


@needs_two_cpus
def test_an_error_in_the_work_still_restores_the_cpus() -> None:
    def fail() -> None:
        raise RuntimeError("boom")

    def call() -> frozenset[int]:
        with pytest.raises(RuntimeError):
            steering.run_off(steering.current_cpu(), fail)
        return frozenset(os.sched_getaffinity(0))

    result: list[frozenset[int]] = []
    thread = threading.Thread(target=lambda: result.append(call()))
    thread.start()
    thread.join()
    assert result == [steering.cpus]

"""Run a helper thread's work on another CPU than the thread that handed it over (Linux).

When a request wakes the second encoder's thread after an idle spell, Linux often places
that thread on the waker's own CPU (on a virtual machine an idle vCPU looks preempted to the
scheduler), so the two encoders that were meant to run side by side share one core. The
helper moves itself off the waker's CPU for the duration of the work (BENCHMARKS.md, "Sixth
round").
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class CpuSteering:
    """The CPUs this process may use, and the C library's ``sched_getcpu``; inactive (it
    runs the work as it is) where either is unavailable or only one CPU is allowed."""

    cpus: frozenset[int] = frozenset()
    getcpu: Callable[[], int] | None = None

    @classmethod
    def of_process(cls) -> CpuSteering:
        """Steering for this process, or an inactive one off Linux/glibc."""
        try:
            cpus = frozenset(os.sched_getaffinity(0))
            getcpu = ctypes.CDLL(None, use_errno=True).sched_getcpu
        except (AttributeError, OSError):
            return cls()
        getcpu.restype, getcpu.argtypes = ctypes.c_int, []
        if len(cpus) < 2:
            return cls()
        return cls(cpus, getcpu)

    @property
    def active(self) -> bool:
        return self.getcpu is not None

    def current_cpu(self) -> int | None:
        """The CPU the calling thread runs on (None when inactive or unknown)."""
        if self.getcpu is None:
            return None
        cpu = self.getcpu()
        return cpu if cpu >= 0 else None

    def run_off(self, cpu: int | None, work: Callable[[], T]) -> T:
        """Run ``work`` on this thread, moved off ``cpu`` first if it is running there; the
        thread may use every CPU again afterwards."""
        if cpu is None or self.current_cpu() != cpu or cpu not in self.cpus:
            return work()
        try:
            os.sched_setaffinity(0, self.cpus - {cpu})
        except OSError as exc:  # a cpuset changed under us: run where we are
            logger.debug("cannot move off CPU %d: %s", cpu, exc)
            return work()
        try:
            return work()
        finally:
            try:
                os.sched_setaffinity(0, self.cpus)
            except OSError as exc:
                logger.debug("cannot restore the CPU set: %s", exc)

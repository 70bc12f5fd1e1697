"""Helper threads kept off the CPU of the thread that hands them work (Linux).

When a request wakes the second encoder's thread after an idle spell, Linux often places
that thread on the waker's own CPU (on a virtual machine an idle vCPU looks preempted to the
scheduler), so the two encoders that were meant to run side by side share one core; moving
the helper once it runs costs ~2 ms more while the other vCPU wakes. So the caller restricts
the helpers to the other CPUs *before* it wakes one, and the kernel wakes it there
(BENCHMARKS.md, "Sixth round").
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class CpuSteering:
    """The CPUs this process may use, and the C library's ``sched_getcpu``; inactive where
    either is unavailable (not Linux/glibc) or only one CPU is allowed."""

    cpus: frozenset[int] = frozenset()
    getcpu: Callable[[], int] | None = None

    @classmethod
    def of_process(cls) -> CpuSteering:
        """Steering for this process, or an inactive one."""
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
        return cpu if cpu >= 0 and cpu in self.cpus else None


class SteeredHelpers:
    """A thread pool whose threads run on other CPUs than the thread submitting work (on
    every CPU when steering is inactive). ``threading`` native ids name the threads to the
    kernel."""

    def __init__(self, threads: int, name: str, steering: CpuSteering | None = None) -> None:
        self.steering = steering if steering is not None else CpuSteering.of_process()
        self._lock = threading.Lock()
        self._thread_ids: list[int] = []
        self._excluded: int | None = None
        self._pool = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix=name, initializer=self._register
        )

    def _register(self) -> None:
        """Runs first in each new helper thread: keep it off the CPU excluded now."""
        with self._lock:
            self._thread_ids.append(threading.get_native_id())
            excluded = self._excluded
        if excluded is not None:
            self._restrict(0, excluded)

    def _restrict(self, thread_id: int, cpu: int) -> None:
        try:
            os.sched_setaffinity(thread_id, self.steering.cpus - {cpu})
        except OSError as exc:  # a cpuset changed under us: the thread stays where it may
            logger.debug("cannot keep helper thread %d off CPU %d: %s", thread_id, cpu, exc)

    def submit(self, work: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``work(*args)`` on a helper thread on another CPU than the caller's.

        The helpers stay off the last caller's CPU until a caller on another CPU moves them
        (two syscalls of ~0.5 µs, only then). Freeing a helper once it woke, so that the
        scheduler could balance it, lost the gain over HTTP (BENCHMARKS.md)."""
        cpu = self.steering.current_cpu()
        if cpu is not None:
            with self._lock:
                if cpu != self._excluded:
                    self._excluded = cpu
                    for thread_id in self._thread_ids:
                        self._restrict(thread_id, cpu)
        return self._pool.submit(work, *args)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)

"""Progress reporting: a bar with counts and ETA on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import threading
import time

log = logging.getLogger("digest.progress")


class Progress:
    """Thread-safe progress for one stage.  ``mode``: auto | bar | plain | off."""

    def __init__(self, total: int, desc: str, mode: str = "auto", unit: str = "item"):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.done = 0
        self.failed = 0  # work that failed: shown apart, never counted as done
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._last_plain = 0.0
        self._logged = (0, 0)  # (done, failed) last shown in plain mode
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "plain"
        self.mode = mode
        self._bar = None
        if mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
        elif mode == "plain" and total:
            log.info("%s: %d %ss to do", desc, total, unit)

    def advance(self, n: int = 1, note: str = "") -> None:
        """``n`` more units finished."""
        self._step(n, 0, note)

    def fail(self, n: int = 1) -> None:
        """``n`` units failed: shown apart ("3 failed"), never counted as done."""
        self._step(0, n, "")

    def _step(self, done: int, failed: int, note: str) -> None:
        with self._lock:
            self.done += done
            self.failed += failed
            if self.failed:
                note = f"{self.failed} failed" + (f", {note}" if note else "")
            if self._bar is not None:
                if note:
                    self._bar.set_postfix_str(note, refresh=not done)
                if done:
                    self._bar.update(done)
            elif self.mode == "plain":
                now = time.monotonic()
                if self.done + self.failed >= self.total or now - self._last_plain >= 2.0:
                    self._log_plain(now, note)

    def _log_plain(self, now: float, note: str) -> None:
        self._last_plain = now
        self._logged = (self.done, self.failed)
        elapsed = now - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done - self.failed) / rate if rate > 0 else 0.0
        log.info(
            "%s: %d/%d %ss, %.1fs elapsed, ETA %.1fs%s",
            self.desc,
            self.done,
            self.total,
            self.unit,
            elapsed,
            eta,
            f" ({note})" if note else "",
        )

    def close(self) -> None:
        """The last state, when it was not shown yet (a stage that stopped early)."""
        with self._lock:
            if self.mode == "plain" and self._logged != (self.done, self.failed):
                self._log_plain(time.monotonic(), f"{self.failed} failed" if self.failed else "")
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

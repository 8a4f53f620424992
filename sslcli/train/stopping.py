"""Stopping a run: signals (clean stop at a step boundary) and failures (NaN/Inf)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from sslcli.errors import Interrupted, RunError
from sslcli.run_folder import RunFolder


class StopFlag:
    """Remembers SIGINT/SIGTERM so the loop stops at the next step boundary."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def interrupt(run: RunFolder | None, path: Path, step: int, signum: int | None) -> None:
    """Write the interrupted summary (rank 0) and stop with exit 130 (SIGINT) or 143.

    ``SSLCLI_STOP_AT_STEP=N`` stops the same way after step N (used by resume tests).
    """
    code = 130 if signum == signal.SIGINT else 143
    where = run.path if run is not None else "the run folder"
    if run is not None:
        run.write_json("summary.json", {"status": "interrupted", "steps": step,
                                        "checkpoint": str(path)})
    raise Interrupted(f"interrupted after step {step}; checkpoint {path}; continue with: "
                      f"sslcli pretrain --resume {where}", code)


def fail(run: RunFolder | None, step: int, epoch: int, last_good: Path | None,
         what: str) -> None:
    """Mark the run failed (rank 0) and stop with exit 1, naming the last good checkpoint."""
    where = (f"Last good checkpoint: {last_good}" if last_good
             else "No checkpoint was written yet")
    if run is not None:
        run.write_json("summary.json", {"status": "failed", "failed_step": step, "epoch": epoch,
                                        "reason": what,
                                        "last_good": str(last_good) if last_good else None})
    raise RunError(f"step {step} (epoch {epoch}): {what}. {where}. Try --precision fp32, "
                   "a lower --lr, or --clip-grad 3.0.")

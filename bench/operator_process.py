"""The operator under test as a subprocess (`modelops-operator run`), as it runs in its pod: its memory and CPU
are its own, read from /proc, never mixed with the emulator's or the fake's.

(Named operator_process, not operator: a module called `operator` would shadow the standard library's.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.controlplane import die_with_parent, stop_gracefully

from bench import measure


def operator_command() -> str:
    beside = Path(sys.executable).parent / "modelops-operator"  # the venv's console script
    return str(beside) if beside.is_file() else "modelops-operator"


@dataclass
class OperatorProcess:
    kubeconfig: Path
    namespace: str
    settings: dict[str, str]  # MODELOPS_* values
    log: Path
    executable: str = ""  # `modelops-operator` to run; empty: the one beside this Python
    popen: subprocess.Popen[bytes] | None = None
    exit_code: int | None = field(default=None)

    def start(self) -> None:
        # Nothing of the benchmark's own environment leaks in: only the settings given here.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELOPS_") and k != "KUBECONFIG"}
        env.update(self.settings)
        env["KUBECONFIG"] = str(self.kubeconfig)
        with open(self.log, "wb") as out:
            self.popen = subprocess.Popen(
                [self.executable or operator_command(), "run", "--namespace", self.namespace, "--standalone"],
                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )  # fmt: skip

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def peak_rss_mib(self) -> float | None:
        """VmHWM: the resident set's high-water mark over the process's whole life."""
        return None if self.pid is None else measure.status_mib(self.pid, "VmHWM")

    def cpu_seconds(self) -> float | None:
        return None if self.pid is None else measure.cpu_seconds(self.pid)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (kopf's graceful stop), then SIGKILL after `grace` seconds."""
        if self.popen is not None:
            stop_gracefully(self.popen, grace)

    def died(self) -> int | None:
        """The exit code when the operator ended by itself (a crash), else None."""
        if self.popen is None:
            return None
        return self.popen.poll()

    def log_lines(self, level: str) -> list[str]:
        """Its log lines of one level (ERROR: failures it survived, which a person should look at)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if f" {level} " in line]

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

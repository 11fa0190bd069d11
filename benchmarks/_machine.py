"""What a benchmark result needs to be read later: date, machine, command, load, peak memory.

Imports nothing heavy (no TensorFlow), so a benchmark that times imports can use it.
"""

from __future__ import annotations

import os
import platform
import resource
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path


def cpu_model() -> str:
    """The ``model name`` line of /proc/cpuinfo (``platform.processor()`` where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """CPU model, cores, platform, Python, and the load average now (the machine may be shared)."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "load_average": [round(v, 2) for v in os.getloadavg()]}


def command() -> str:
    """The command line that ran this script."""
    return " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])


def today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (``ru_maxrss`` is KiB on Linux) of this process or, with
    ``resource.RUSAGE_CHILDREN``, of the largest waited-for child."""
    return resource.getrusage(who).ru_maxrss / 1024


def write_result(path, result: dict) -> None:
    """Write ``result`` as JSON to ``path`` (folders created) and print it."""
    import json

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def cpu_flags() -> list[str]:
    """The vector and matrix extensions of /proc/cpuinfo's flags (AVX2/512, AMX, FMA)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                return sorted(f for f in flags if f.startswith(("avx512", "amx", "avx2", "fma")))
    except OSError:
        pass
    return []

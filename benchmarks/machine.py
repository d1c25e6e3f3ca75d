"""What machine a benchmark ran on, printed with every result."""

from __future__ import annotations

import os
import platform
from importlib import metadata


def describe(packages: tuple[str, ...] = ()) -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": str(os.cpu_count()), "python": platform.python_version(),
            "os": platform.platform(terse=True)}
    try:
        with open("/proc/meminfo") as handle:
            info["memory"] = f"{int(handle.readline().split()[1]) // 1024 // 1024} GiB"
    except OSError:
        pass
    for name in packages:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "absent"
    return info

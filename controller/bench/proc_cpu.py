"""CPU seconds of a process, or of a process and everything it started, from /proc.

A server's CPU per operation is the figure a shared 2-core machine does not blur: wall
time includes waiting for the other tenants, CPU time does not. Linux only (proc(5)):
`/proc/<pid>/stat` fields 14-17 are utime, stime, cutime and cstime in clock ticks.
cutime/cstime hold the CPU of children the process has waited for, so summing
utime+stime+cutime+cstime over a live process tree also counts the helpers that have
already exited (an sshd session that ended, its subsystem), as long as each was reaped
by a process still in the tree. Times of a process's threads are included in its own.
psutil would read the same fields; it is not a dependency for these four numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat a CPU account needs, in seconds."""

    pid: int
    ppid: int
    own: float        # utime + stime
    children: float   # cutime + cstime (reaped children, recursively)


def read_stat(pid: int) -> ProcStat | None:
    """The process's stat, or None when it is gone (or the pid never existed)."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) is in parentheses and may itself hold ") "; the fields
    # after the last ")" start at field 3 (state).
    fields = text.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return ProcStat(pid=pid, ppid=int(fields[1]), own=(utime + stime) / _TICK,
                    children=(cutime + cstime) / _TICK)


def process_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU seconds of one process so far (its threads included); with
    `reaped_children`, also those of the children it has waited for."""
    stat = read_stat(pid)
    if stat is None:
        raise ProcessLookupError(pid)
    return stat.own + (stat.children if reaped_children else 0.0)


def process_table() -> dict[int, ProcStat]:
    """Every process visible in /proc now (those that exit while it is read are skipped)."""
    table = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name))
            if stat is not None:
                table[stat.pid] = stat
    return table


def descendants(root_pid: int, table: dict[int, ProcStat] | None = None) -> list[int]:
    """`root_pid` and every live process below it, parents before children."""
    table = process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for stat in table.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found, frontier = [], [root_pid] if root_pid in table else []
    while frontier:
        pid = frontier.pop()
        found.append(pid)
        frontier.extend(children.get(pid, ()))
    return found


def tree_cpu_seconds(root_pid: int, table: dict[int, ProcStat] | None = None) -> float:
    """CPU seconds of `root_pid` and all its live descendants, plus every process among
    them has reaped: the whole cost of a server that forks per session."""
    table = process_table() if table is None else table
    return sum(table[pid].own + table[pid].children for pid in descendants(root_pid, table))

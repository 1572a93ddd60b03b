"""Who holds a post's claim, and whether that holder is known to be gone.

A claimant is named ``MACHINE:PID:TOKEN``. MACHINE says which process table PID belongs to
(host name, boot id and PID namespace: two containers on one host, or two hosts of one
name, are different machines), TOKEN tells apart two bots in one process. A claim is a
lease: its holder renews it while it posts (:data:`CLAIM_LEASE`), so another process takes
it over when it lapses, and at once when the holder ran on this machine and its process no
longer exists. A claim of a live process is never taken over.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
import uuid
from pathlib import Path
from typing import Final

#: A claim not renewed for this long belongs to a process presumed dead (or cut off).
CLAIM_LEASE: Final = dt.timedelta(minutes=1)
#: How often a process renews the claims it is posting: well inside the lease.
CLAIM_RENEW_EVERY: Final = CLAIM_LEASE / 4


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


@functools.cache
def this_machine() -> str:
    """This process table's name: host name, boot id and PID namespace where Linux has them."""
    boot = _read("/proc/sys/kernel/random/boot_id")[:8]
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    return "/".join(part for part in (socket.gethostname().replace(":", "_"), boot, namespace)
                    if part)


def new_claimant() -> str:
    """A claimant name for one bot in this process."""
    return f"{this_machine()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _running(pid: int) -> bool:
    """Whether a process with this id exists here (and is not a zombie waiting to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return True  # cannot tell: presume alive
    stat = _read(f"/proc/{pid}/stat")
    # The state follows the command name in parentheses: "123 (python) Z ...".
    return not stat.rpartition(")")[2].strip().startswith("Z")


def holder_gone(claimant: str) -> bool:
    """Whether a claim's holder is known to be gone: it ran here and its process is not running.

    Anything else (another machine, a name this version did not write, a live process)
    is presumed alive: only its lease running out frees its claim.
    """
    machine, _, rest = claimant.partition(":")
    pid_text, _, token = rest.partition(":")
    if machine != this_machine() or not pid_text.isdigit() or not token:
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not _running(pid)

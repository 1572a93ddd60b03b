"""Who holds a claim: a process of this machine that is gone frees its claims at once."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.core import claims


def claimant_of(pid: int, machine: str | None = None) -> str:
    return f"{machine or claims.this_machine()}:{pid}:abcd1234"


def test_a_claimant_names_this_machine_and_process() -> None:
    machine, pid, token = claims.new_claimant().split(":")
    assert machine == claims.this_machine() and pid == str(os.getpid()) and len(token) == 8
    assert claims.new_claimant() != claims.new_claimant()  # two bots in one process


def test_a_live_process_keeps_its_claim() -> None:
    assert not claims.holder_gone(claims.new_claimant())  # this very process
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                          stdin=subprocess.PIPE) as child:
        try:
            assert not claims.holder_gone(claimant_of(child.pid))
        finally:
            child.communicate(b"")


def test_a_process_that_was_killed_is_gone() -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as child:
        child.kill()
        child.wait()
        assert claims.holder_gone(claimant_of(child.pid))


def test_a_killed_process_not_yet_reaped_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        child.kill()
        # Until its parent reaps it, a dead process stays in the table as a zombie.
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        assert claims.holder_gone(claimant_of(child.pid))
    finally:
        child.wait()


def test_another_machine_or_an_unknown_name_is_presumed_alive() -> None:
    with subprocess.Popen([sys.executable, "-c", "pass"]) as child:
        child.wait()
    assert not claims.holder_gone(claimant_of(child.pid, machine="other-host/1234/5678"))
    for odd in ("", "crashed", f"{claims.this_machine()}:notapid:x",
                f"{claims.this_machine()}:{child.pid}"):
        assert not claims.holder_gone(odd)

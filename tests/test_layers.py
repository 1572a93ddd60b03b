"""The layers a newcomer sees in the layout hold: the core is pure, storage knows no Discord.

Each module is imported alone in a fresh interpreter, so a module that pulls discord.py or
SQLAlchemy in through another one is caught too.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import bot.core
import storage

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: ModuleType) -> list[str]:
    found = pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    return sorted(m.name for m in found if ".migrations" not in m.name)


def _loaded(module: str, watched: tuple[str, ...]) -> list[str]:
    code = (f"import sys, {module}; "
            f"print(sorted(m for m in {watched!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    return [m.strip(" '") for m in result.stdout.strip(" []\n").split(",") if m.strip()]


CORE = _modules(bot.core)
STORAGE = _modules(storage)


def test_every_core_and_storage_module_is_checked() -> None:
    assert {"bot.core.reports", "bot.core.posting_rules", "bot.core.config"} <= set(CORE)
    assert {"storage.engine", "storage.migrate"} <= set(STORAGE)


@pytest.mark.parametrize("module", CORE)
def test_core_imports_neither_discord_nor_the_database(module: str) -> None:
    # matplotlib too: a chart is drawn only when one is asked for.
    assert _loaded(module, ("discord", "sqlalchemy", "aiohttp", "matplotlib")) == []


@pytest.mark.parametrize("module", STORAGE)
def test_storage_imports_no_discord(module: str) -> None:
    assert _loaded(module, ("discord", "aiohttp")) == []

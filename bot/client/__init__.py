"""The Discord side: the bot and its shards, the one error handler, logs, command sync, start-up.

Cogs (``bot/cogs/``) listen and answer; the rules they apply are in ``bot/core/`` and the
records they keep in ``storage/``. This package is what ties them to discord.py.
"""

"""Seminar's storage: SQLAlchemy 2 models, engine set-up, repository and migrations.

Knows nothing of discord.py.
"""

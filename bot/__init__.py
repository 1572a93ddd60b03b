"""Seminar: a Discord bot that runs class discussions."""

__version__ = "0.1.0"

"""The bot's cogs: thin adapters between Discord and the core and storage modules."""

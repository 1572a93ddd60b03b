"""The pure core: lessons, calendar, rules, rendering and reports.

Nothing here imports discord.py or SQLAlchemy (tests/test_layers.py checks every module),
so each rule is a plain function a unit test can call.
"""

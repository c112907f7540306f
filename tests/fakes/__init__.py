"""Test doubles: a fake Membrane (API and CLI) over a fake Infobip. Never imported by the
product (tests/test_architecture.py holds it)."""

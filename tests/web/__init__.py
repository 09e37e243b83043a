"""Tests of the web 看板 over the real stack (their fixtures: `tests/web/conftest.py`)."""

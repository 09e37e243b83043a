"""Real-browser tests: headless Debian Chromium driven by Selenium (see conftest.py)."""

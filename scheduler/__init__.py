"""Periodic jobs: APScheduler wiring and the (job, period) run ledger."""

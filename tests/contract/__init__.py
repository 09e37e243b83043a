"""The storage contract suite: the storage port's behaviour, run against every backend.

Each test takes `repos` (and `db` where it needs `transaction()`), parametrized over the
backends of `tests/storage_backends.py`; run it alone with `pytest tests/contract`. Tests go
through `Repositories` and `Database.transaction()` only: no SQL, no rowid, no PRAGMA."""

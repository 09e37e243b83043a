"""The storage contract suite: the storage port's behaviour, run against every backend."""

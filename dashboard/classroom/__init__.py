"""The classroom's shared state: the Redis store (rooms, saved scenarios), its one instance per process, the presenter's publishing."""

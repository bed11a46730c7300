"""Pure, version-neutral business logic. No I/O: no database, no Redis, no sockets."""

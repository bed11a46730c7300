"""All SQL of csms: asyncpg only, one module per aggregate. Functions take a pool or connection."""

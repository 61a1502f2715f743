"""The shared PostgreSQL database: what only PostgreSQL has.

``admin`` installs roles, row-level security, server-side functions and
constraints on top of the Alembic schema (idempotently) and manages people's
login roles; ``claims`` is the pool claim/lease client; ``routing_store``
applies the pure routing rules with their fairness state in the database;
``intake`` normalises, de-duplicates, classifies and routes new leads;
``live`` listens for per-rep assignment notices.

Nothing here is imported by the local-store code path, so the app without a
shared database never loads psycopg.
"""

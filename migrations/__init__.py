"""Alembic migrations for the LeadQueue schema (local SQLite and shared PostgreSQL).

Shipped as a package so an installed LeadQueue can upgrade a store at start-up.
"""

"""CLI sub-commands, one module each.

Every module here defines ``register(subparsers)``, which adds its parser and
sets ``func=run`` where ``run(args) -> int`` is the exit code. ``leadqueue.cli``
discovers the modules, so adding a command touches no shared file. Keep heavy
imports (SQLAlchemy, Qt) inside ``run``: every command module is imported at
start-up.
"""

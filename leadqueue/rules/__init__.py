"""The follow-up rules as pure functions: ``(state, policy, now) -> decision``.

Nothing here imports the store or sync; the engine applies decisions.
"""

"""LeadQueue core: the next-best-lead queue, follow-up rules, local store and sync.

This package never imports Qt (a test proves it); the desktop app in ``ui/`` and
the CLI are clients of it.
"""

__version__ = "0.1.0"

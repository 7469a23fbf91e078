"""Transitional: moved to `bot.usecases.summaries` (use cases, jobs and listeners may all import it).

Kept only for the modules that still import it from here (bot/home.py, jobs/ledger.py, the wins and
commitments listeners); delete it once they import `bot.usecases.summaries`.
"""

from bot.usecases.summaries import commitment_view, summary, win_view

__all__ = ["commitment_view", "summary", "win_view"]

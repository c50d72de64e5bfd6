"""A budget guard for your own code: the layer of spending control you own.

    from keylab.guard import BudgetGuard, BudgetExceeded
    guard = BudgetGuard(OpenAI(), budget_usd="1.00", state_file="spend.json")

See `keylab.guard.budget` for what it guards and how.
"""

from keylab.guard.budget import BudgetGuard
from keylab.guard.clocks import sandbox_clock
from keylab.guard.errors import BudgetExceeded, OutputCapNotice
from keylab.guard.estimate import DEFAULT_OUTPUT_CAP, WorstCase

__all__ = ["DEFAULT_OUTPUT_CAP", "BudgetExceeded", "BudgetGuard", "OutputCapNotice", "WorstCase", "sandbox_clock"]

"""Cost widgets for the lessons (ipywidgets 8): estimate, compare, project, plan, and read the bill.

The arithmetic lives in `keylab.estimate` and `keylab.spend`; these classes only wire controls to
it and draw the answer, so every number a widget shows can be checked without a browser.
"""

from keylab.widgets.calculator import CostCalculator
from keylab.widgets.comparison import ModelComparison
from keylab.widgets.planner import BudgetPlanner
from keylab.widgets.projection import SpendProjection
from keylab.widgets.usage import UsageReport

__all__ = ["BudgetPlanner", "CostCalculator", "ModelComparison", "SpendProjection", "UsageReport"]

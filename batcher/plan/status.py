"""A plan's row statuses: each input row is eligible (its number may be sent), invalid (no
callable number; the reason says why) or a duplicate of an earlier row's number. Invalid and
duplicate are outcomes the results show; eligible is not an outcome, only that the rules of
`batcher.plan.choose` decide what becomes of the number. Here so that the plan, the forecast and
the workbook share one vocabulary without importing one another.
"""

from batcher.outcomes import Outcome

INVALID, DUPLICATE = Outcome.INVALID, Outcome.DUPLICATE
ELIGIBLE = "eligible"  # a row status of the plan, not an outcome: its number may be sent

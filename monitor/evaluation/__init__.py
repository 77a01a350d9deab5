"""Judging the network against the plan: states, conditions, incidents.

`Evaluator` is the entry point; the judging is in pure functions: `ping`
(reachability, quality, baseline), `snmp` (interfaces, power, devices),
`sites` (roll-up), `dependencies` (parents, blindness), `power`.
"""

from monitor.evaluation.conditions import Event
from monitor.evaluation.evaluator import Evaluator
from monitor.evaluation.restore import rounds_remembered
from monitor.evaluation.states import RoundOutcome, SiteVerdict, Transition

__all__ = [
    "Evaluator",
    "Event",
    "RoundOutcome",
    "SiteVerdict",
    "Transition",
    "rounds_remembered",
]

"""Budget pacing: how much of a daily budget may be spent by now, and how hard to shade.

The plan is an even spread over the UTC day: by time t the campaign should have spent
`budget * f(t)`, f the elapsed fraction of the day. Two things follow from how far the
campaign's committed spend (spent + reserved for in-flight bids) is ahead of that line,
measured in units of the slack (`slack_hours` worth of the budget):

- the *allowance*: committed spend may not pass `budget * (f + slack)` (nor the budget).
  This is the hard stop that makes "no exhaustion in the first hours" a guarantee, not a
  hope: by 01:00 UTC at most 2/24 of the budget is gone with the default one-hour slack.
  A bid refused by it is a no-bid with reason "pacing" (or "budget_exhausted" once the
  allowance is the whole budget).
- the *pacing factor*: 1 while behind the line, then falling linearly to `min_factor` as
  the lead grows to the whole slack. Bids are multiplied by it, so a campaign that spends
  too fast bids lower, wins fewer and cheaper impressions, and settles where its spend rate
  matches the plan — a proportional controller whose only state is the spend itself. That
  is what lets a fleet of bidders pace one campaign without talking to each other: they
  all read the same spend (Redis) and so compute the same factor.

Unspent allowance carries over (the line is cumulative), so a quiet night leaves budget
for the busy day. Pure functions of (budget, committed spend, time): unit-testable with any
clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 86_400_000


def day_of(epoch_ms: int) -> int:
    """The UTC day number (days since 1970-01-01) budgets are counted in."""
    return epoch_ms // DAY_MS


def day_fraction(epoch_ms: int) -> float:
    """Elapsed fraction of the UTC day, in [0, 1)."""
    return (epoch_ms % DAY_MS) / DAY_MS


@dataclass(frozen=True)
class Pacer:
    slack_hours: float = 1.0
    min_factor: float = 0.1
    slack: float = field(init=False)  # slack_hours as a fraction of the day

    def __post_init__(self) -> None:
        object.__setattr__(self, "slack", self.slack_hours / 24.0)

    def allowance(self, budget_micros: int, epoch_ms: int) -> int:
        """The most that may be committed by `epoch_ms` (micros)."""
        return min(budget_micros, int(budget_micros * (day_fraction(epoch_ms) + self.slack)))

    def factor(self, budget_micros: int, committed_micros: int, epoch_ms: int) -> float:
        """The multiplier on value-based bids, in [min_factor, 1]."""
        target = budget_micros * day_fraction(epoch_ms)
        lead = (committed_micros - target) / (budget_micros * self.slack)
        if lead <= 0.0:
            return 1.0
        return max(self.min_factor, 1.0 - lead)

"""Device acceptance: role policies (TOML, validated at load), the judge, the acceptance record.

``policy`` loads and resolves policies (``policies/<role>.toml`` ship with
dicomaudit; a site's own extends one); ``judge`` turns a run's results and
each node's policy into frozen :class:`~dicomaudit.acceptance.judge.NodeJudgement`
records (pure: no network); ``record`` assembles what ``dicomaudit accept``
hands over for signature.
"""

from dicomaudit.acceptance.judge import NodeJudgement, Outcome, RunJudgement, Verdict, judge_node, judge_run
from dicomaudit.acceptance.policy import Policy, PolicyError, Requirement, load_policy, load_role, shipped_roles

__all__ = [
    "NodeJudgement",
    "Outcome",
    "Policy",
    "PolicyError",
    "Requirement",
    "RunJudgement",
    "Verdict",
    "judge_node",
    "judge_run",
    "load_policy",
    "load_role",
    "shipped_roles",
]

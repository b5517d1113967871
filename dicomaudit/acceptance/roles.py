"""Which policy judges which node: the inventory's ``role`` column, ``--role``, ``--policy`` files.

A node's role is its inventory row's ``role`` column (``Target.attributes``),
else the run's default role (``--role``; with exactly one ``--policy`` file
and no ``--role``, that policy's name).  A role names a ``--policy`` file's
policy (by its ``name``) before a shipped one, so a site policy named
``archive`` replaces the shipped archive policy for its run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dicomaudit.acceptance.policy import Policy, PolicyError, load_policy, load_role, shipped_roles
from dicomaudit.models import Target

ROLE_COLUMN = "role"


@dataclass(frozen=True)
class RolePlan:
    """The policies of a run by role name, and the role of nodes whose inventory row names none."""

    policies: Mapping[str, Policy] = field(default_factory=dict)  # from --policy files, by their name
    default_role: str | None = None

    @classmethod
    def load(cls, role: str | None, policy_files: Sequence[str | Path] = ()) -> RolePlan:
        """Load the ``--policy`` files and check ``--role`` names a policy (:class:`PolicyError` if not)."""
        policies: dict[str, Policy] = {}
        for path in policy_files:
            policy = load_policy(path)
            if policy.name in policies:
                raise PolicyError(f"{path}: a second policy named {policy.name!r} (give each --policy its own name)")
            policies[policy.name] = policy
        default = role if role is not None else (next(iter(policies)) if len(policies) == 1 else None)
        plan = cls(policies, default)
        if default is not None:
            plan.policy(default)
        return plan

    def policy(self, role: str) -> Policy:
        if role in self.policies:
            return self.policies[role]
        if role not in shipped_roles() and self.policies:
            known = ", ".join([*self.policies, *shipped_roles()])
            raise PolicyError(f"unknown role {role!r} (known: {known})")
        return load_role(role)

    def role_of(self, target: Target) -> str | None:
        return str(target.attributes.get(ROLE_COLUMN) or "") or self.default_role

    def assign(self, targets: Iterable[tuple[str, Target]]) -> dict[str, tuple[str, Policy]]:
        """``{node key: (role, policy)}`` for every target that has a role; ``where`` names each in errors."""
        out: dict[str, tuple[str, Policy]] = {}
        seen: dict[str, tuple[str, str]] = {}
        for where, target in targets:
            role = self.role_of(target)
            if role is None:
                continue
            try:
                policy = self.policy(role)
            except PolicyError as exc:
                raise PolicyError(f"{where}: {exc}") from None
            key = target.node_key
            if key in seen and seen[key][0] != role:
                raise PolicyError(
                    f"{where}: node {key.split(':', 1)[1]!r} has role {role!r} here and {seen[key][0]!r} "
                    f"at {seen[key][1]} (one node, one role)"
                )
            seen.setdefault(key, (role, where))
            out[key] = (role, policy)
        return out

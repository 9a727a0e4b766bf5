"""Which role may do what (docs/rules.md section 5), with the defaults a site starts from."""

from __future__ import annotations

from collections.abc import Mapping, Set

from putback_tui.domain.errors import PermissionDenied
from putback_tui.domain.models import Operator, Permission

DEFAULT_ROLES: Mapping[str, frozenset[Permission]] = {
    "operator": frozenset({Permission.PUT_BACK, Permission.REJECT_ITEM, Permission.MOVE_OUT}),
    "supervisor": frozenset(Permission),
}
"""By default an operator may put back, reject and move out; a supervisor may do everything."""


def check_permission(
    operator: Operator, permission: Permission, roles: Mapping[str, Set[Permission]]
) -> None:
    """Refuse an action the operator's role does not allow.

    Raises:
        PermissionDenied: the role lacks ``permission`` (or is not mapped at all).
    """
    if permission in roles.get(operator.role, frozenset()):
        return
    raise PermissionDenied(
        f"{operator.name} ({operator.badge}, {operator.role}) may not {permission.label}: "
        f"permission '{permission.value}' is missing. Ask a supervisor.",
        permission=permission.value,
    )

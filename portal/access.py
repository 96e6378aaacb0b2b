"""Role checks, in one place: a decorator for views and a guard for whole blueprints."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_login import current_user

from portal.extensions import login_manager
from portal.models import Role


def roles_required(*roles: Role) -> Callable:
    """Allow only logged-in users with one of ``roles``; anonymous users are sent to log in."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = roles  # type: ignore[attr-defined]
        return wrapper

    return decorator


def guard_blueprint(bp, *roles: Role) -> None:
    """Require one of ``roles`` for every view of a blueprint."""

    @bp.before_request
    def _guard():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role not in roles:
            abort(403)
        return None


def login_required_any(view: Callable) -> Callable:
    return roles_required(*Role)(view)

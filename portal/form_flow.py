"""One way for a view to hand a submitted form to a service.

The service's ValidationError goes next to the fields; a Conflict (someone changed the object
since the page was shown, an expected_lock that no longer matches) becomes a form error and
status 409 — or, for a small form on another object's page, a flashed message and a redirect;
success flashes and redirects (the request boundary commits)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect
from werkzeug.wrappers import Response

from portal.transaction import attempt
from services.errors import Conflict, ValidationError


def save_form(
    form,
    call: Callable[[], Any],
    *,
    done: str | Callable[[Any], str],
    to: str | Callable[[Any], str],
    conflict_to: str | None = None,
) -> Response | None:
    """Run ``call()``; ``done`` and ``to`` may be functions of its result (evaluated after it).
    Returns the redirect, or None when the form is to be shown again with its errors
    (``form_status`` gives the status)."""
    try:
        with attempt():
            result = call()
    except ValidationError as exc:
        form.apply_errors(exc)
        return None
    except Conflict as exc:
        if conflict_to is not None:
            flash(exc.message, "error")
            return redirect(conflict_to)
        form.form_errors.append(exc.message)
        form.conflict = True
        return None
    flash(done(result) if callable(done) else done, "success")
    return redirect(to(result) if callable(to) else to)


def form_status(form) -> int:
    """409 after a conflict, 422 when the form has errors, else 200."""
    if getattr(form, "conflict", False):
        return 409
    has_errors = (
        form.has_errors if hasattr(form, "has_errors") else bool(form.errors or form.form_errors)
    )
    return 422 if has_errors else 200


def act_on_case(
    form,
    call: Callable[[], Any],
    *,
    back: str,
    show_again: Callable[[], Any],
    done: str,
    anchor: str = "",
) -> Any:
    """A workflow action taken from a case page with its small form: refusals about the form's
    fields show the page again with them (``show_again``); any other refusal or a conflict is
    flashed and the case page reloaded; success flashes ``done`` and goes back."""
    try:
        with attempt():
            call()
    except ValidationError as exc:
        if set(exc.errors) & set(form._fields):
            form.apply_errors(exc)
            return show_again()
        flash(exc.message, "error")
        return redirect(back)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(done, "success")
    return redirect(back + anchor)

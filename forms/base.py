"""The shared form base: every form gets CSRF and a way to take a service's field errors."""

from __future__ import annotations

from flask_wtf import FlaskForm

from services.errors import ValidationError


class PortalForm(FlaskForm):
    def apply_errors(self, exc: ValidationError) -> None:
        """Put a service's field errors next to the fields they name (others go to the form)."""
        for name, message in exc.errors.items():
            field = self._fields.get(name) if name else None
            if field is not None:
                field.errors = (
                    [*field.errors, message] if isinstance(field.errors, list) else [message]
                )
            else:
                self.form_errors.append(message)

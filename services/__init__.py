"""The domain: functions that take the acting user, flush, and never know about HTTP."""

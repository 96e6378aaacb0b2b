"""Fake and demo data: one source, shared by `flask seed` and the tests."""

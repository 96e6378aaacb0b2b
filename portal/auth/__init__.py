"""Accounts: register, log in, log out; SMS codes for registration, 忘记密码 and changes."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from portal.auth import phone_routes, routes  # noqa: E402,F401

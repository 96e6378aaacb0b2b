"""The access matrix, one module per area: GET (endpoint → path, expected status per role)
and POST_ONLY (endpoint → path). tests/portal/test_access_matrix.py merges every module here,
so an area adds its routes in its own file."""

import importlib
import pkgutil

ROLES = ("anonymous", "citizen", "counter", "reviewer", "admin")
ALL_200 = dict.fromkeys(ROLES, 200)
LOGGED_IN_ONLY = {"anonymous": 302, "citizen": 200, "counter": 200, "reviewer": 200, "admin": 200}
ANONYMOUS_ONLY = {"anonymous": 200, "citizen": 302, "counter": 302, "reviewer": 302, "admin": 302}
ADMIN_ONLY = {"anonymous": 302, "citizen": 403, "counter": 403, "reviewer": 403, "admin": 200}
CITIZEN_ONLY = {"anonymous": 302, "citizen": 200, "counter": 403, "reviewer": 403, "admin": 403}
REVIEWER_ONLY = {"anonymous": 302, "citizen": 403, "counter": 403, "reviewer": 200, "admin": 403}
COUNTER_ONLY = {"anonymous": 302, "citizen": 403, "counter": 200, "reviewer": 403, "admin": 403}


def merged() -> tuple[dict, dict]:
    get: dict = {}
    post_only: dict = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for key, value in getattr(module, "GET", {}).items():
            assert key not in get, f"{key} declared twice"
            get[key] = value
        post_only.update(getattr(module, "POST_ONLY", {}))
    return get, post_only

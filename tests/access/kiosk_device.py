"""把本机设为自助终端: counter staff and admins set a browser up as a kiosk (a POST)."""

from tests.access import ROLES

GET = {
    "kiosk.setup": (
        "/kiosk/setup",
        dict(zip(ROLES, (302, 403, 200, 403, 200), strict=True)),
    ),
}
POST_ONLY = {"kiosk.clear_setup": "/kiosk/setup/clear"}

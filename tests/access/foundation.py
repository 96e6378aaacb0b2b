from tests.access import ALL_200, ANONYMOUS_ONLY, LOGGED_IN_ONLY

GET = {
    "main.index": ("/", ALL_200),
    "main.profile": ("/profile", LOGGED_IN_ONLY),
    "auth.register": ("/auth/register", ANONYMOUS_ONLY),
    "auth.login": ("/auth/login", ANONYMOUS_ONLY),
}
POST_ONLY = {
    "main.toggle_elder_mode": "/preferences/elder-mode",
    "main.set_language": "/preferences/language",
    "auth.logout": "/auth/logout",
    "main.extend_session": "/session/extend",
}

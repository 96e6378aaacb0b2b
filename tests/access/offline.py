"""The counter's offline intake (离线受理): the app shell, its catalogue, a fresh CSRF token, the
service worker and the intake API — counter staff only."""

from tests.access import COUNTER_ONLY

GET = {
    "counter.offline": ("/counter/offline", COUNTER_ONLY),
    "counter.offline_catalogue": ("/counter/offline/catalogue.json", COUNTER_ONLY),
    "counter.offline_token": ("/counter/offline/token", COUNTER_ONLY),
    "counter.service_worker": ("/counter/sw.js", COUNTER_ONLY),
}
POST_ONLY = {
    "counter.offline_send": "/counter/api/intakes",
}

"""The counter workstation (综合窗口): counter staff only."""

from tests.access import COUNTER_ONLY

GET = {
    "counter.workstation": ("/counter/", COUNTER_ONLY),
}
POST_ONLY: dict = {}

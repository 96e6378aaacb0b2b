"""Routes added to finish the review workflow: uploads on the correction page, the reviewer's
messages, per-visit ratings."""

from tests.access import REVIEWER_ONLY

GET = {
    "review.message_centre": ("/review/messages", REVIEWER_ONLY),
}
POST_ONLY = {
    "apply.correction_upload": "/cases/1/correction/materials/1/upload",
    "apply.rate_visit": "/cases/1/visits/1/rate",
}

"""Display words for the codes the document library stores."""

from flask_babel import lazy_gettext as _l

GRADES = {
    "A": _l("电子证照"),
    "B": _l("已核验原件"),
    "C": _l("未核验上传"),
    "D": _l("本人承诺"),
}
SOURCES = {
    "upload": _l("本人上传"),
    "elicence": _l("部门签发"),
    "counter": _l("窗口核验"),
    "commitment": _l("本人承诺"),
}
STATES = {
    "valid": _l("有效"),
    "expiring": _l("即将过期"),
    "expired": _l("已过期"),
    "revoked": _l("已撤销"),
}
VERIFY_OUTCOMES = {
    "valid": _l("有效"),
    "expired": _l("已过期"),
    "cancelled": _l("已注销"),
    "not_found": _l("查无此证"),
}
DATA_USE_ACTIONS = {
    "view_document": _l("查看材料"),
    "download_document": _l("下载材料"),
    "reuse_document": _l("复用材料"),
    "reveal_personal_data": _l("查看个人信息"),
}
CASE_STATUSES = {
    "draft": _l("草稿"),
    "completed": _l("已办结"),
    "denied": _l("不予许可"),
    "not_accepted": _l("不予受理"),
    "withdrawn": _l("已撤回"),
    "terminated": _l("已终止"),
}

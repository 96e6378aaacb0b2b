"""Statistics (统计分析): the admins' dashboard, the reviewers' department view, and the public
performance pages (办件绩效).

Three blueprints, one rule each: ``statistics_admin`` (/admin/statistics, admins, every
department), ``statistics_department`` (/review/statistics, reviewers, their own department
only: the department comes from the account, never from the URL) and ``performance``
(/performance, everyone). Every figure comes from services/statistics.py; the views only read
the filters, call it, and lay out the answer as figures, charts (portal/charts.py) and tables
that each export to CSV (portal/statistics/csv_export.py).
"""

from flask import Blueprint

from portal.access import guard_blueprint
from portal.models import Role

admin_bp = Blueprint("statistics_admin", __name__, url_prefix="/admin/statistics")
guard_blueprint(admin_bp, Role.admin)

department_bp = Blueprint("statistics_department", __name__, url_prefix="/review/statistics")
guard_blueprint(department_bp, Role.reviewer)

public_bp = Blueprint("performance", __name__)

from portal.statistics import public, routes  # noqa: E402,F401

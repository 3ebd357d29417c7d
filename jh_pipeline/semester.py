"""Semester names used in the artifact layout (``<semester>/<class>/...``).

Pure: callers pass the date. A ``semester:`` in class.yaml overrides this; callers apply it.
"""

from __future__ import annotations

import datetime as _dt
import re

SEMESTER_RE = re.compile(r"^(spring|summer|fall)-\d{4}$")


def semester_for(day: _dt.date) -> str:
    """``spring-YYYY`` for Jan-May, ``summer-YYYY`` for Jun-Jul, ``fall-YYYY`` for Aug-Dec."""
    if day.month <= 5:
        term = "spring"
    elif day.month <= 7:
        term = "summer"
    else:
        term = "fall"
    return f"{term}-{day.year}"


def is_semester(name: str) -> bool:
    """True for names shaped like ``semester_for`` output (for validating class.yaml overrides)."""
    return SEMESTER_RE.fullmatch(name) is not None

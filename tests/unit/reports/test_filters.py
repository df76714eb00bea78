"""Report filters: from a digest's config mapping to SQL conditions on both dialects."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from bot.reports import ReportError, ReportFilter, check_report_filter
from storage.models import Complaint


def test_from_mapping_accepts_text_and_lists() -> None:
    flt = ReportFilter.from_mapping({"type": "产品质量", "department": ["product", "logistics"]})
    assert flt == ReportFilter(type="产品质量", department=("product", "logistics"))
    assert ReportFilter.from_mapping({}).is_empty()


def test_check_names_unknown_keys_and_bad_values() -> None:
    problems = check_report_filter({"部门": "cs", "type": 3, "channel": []})
    assert [(p.path, p.message) for p in problems] == [
        (("部门",), "unknown filter '部门' (use type, channel, department, product, assignee)"),
        (("type",), "filter 'type' must be text or a non-empty list of text"),
        (("channel",), "filter 'channel' must be text or a non-empty list of text"),
    ]
    with pytest.raises(ReportError, match="unknown filter '部门'"):
        ReportFilter.from_mapping({"部门": "cs"})


@pytest.mark.parametrize(
    ("dialect", "fragment"),
    [(postgresql.dialect(), "->>"), (sqlite.dialect(), "JSON_EXTRACT")],
)
def test_product_reads_the_json_value_on_each_database(dialect: object, fragment: str) -> None:
    flt = ReportFilter(product="型号A", type=("产品质量", "物流问题"))
    sql = str(select(Complaint.id).where(*flt.conditions()).compile(dialect=dialect))  # type: ignore[arg-type]
    assert fragment in sql and " IN " in sql
    assert len(flt.conditions()) == 2

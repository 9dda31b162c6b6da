from __future__ import annotations

import json
import subprocess

import pytest

from app.excel import Limits, build_template
from app.excel.sandbox import TaskError, run_task
from tests.excel.helpers import MINI, load


@pytest.mark.parametrize("isolate", [True, False], ids=["isolated", "in-process"])
def test_a_task_that_raises_is_a_bug_not_a_rejection(isolate: bool) -> None:
    f = load(MINI)
    data = build_template(f.instrument, f.content_hash)
    with pytest.raises(TaskError, match="JSONDecodeError"):
        run_task("extract", data, "not json", Limits(isolate=isolate))


def test_unknown_task() -> None:
    with pytest.raises(ValueError, match="unknown worker task"):
        run_task("evaluate", b"", "{}", Limits())


def test_worker_gets_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child must not inherit secrets such as database URLs."""
    seen: dict[str, object] = {}
    real_run = subprocess.run

    def spy(*args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        return real_run(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setenv("OCA_DATABASE_URL", "postgresql://user:secret@db/oca")
    monkeypatch.setattr(subprocess, "run", spy)
    f = load(MINI)
    params = {
        "max_rows": 10,
        "max_columns": 10,
        "max_sheets": 10,
        "max_text": 10**6,
        "meta_sheet": "_meta",
        "cover_row": 6,
        "value_column": 2,
        "table_column": 4,
        "table_header_row": 1,
    }
    out = run_task(
        "extract", build_template(f.instrument, f.content_hash), json.dumps(params), Limits()
    )
    assert json.loads(out)["sheetnames"][0] == "Cover"
    env = seen["env"]
    assert isinstance(env, dict)
    assert "OCA_DATABASE_URL" not in env
    assert set(env) <= {"PATH", "LC_ALL"}

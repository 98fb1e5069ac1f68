"""Loop rows are typed: each row of ``evaluated.parquet`` is a ScenarioRow, and the report checks the columns."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from ani.orchestrator.evaluate.report_html import ReportError, loop_report
from ani.orchestrator.loop.feedback import ScenarioRow, scenario_table

ROW = {"iteration": 0, "budget_index": 1, "generator": "random", "seed": 1, "name": "s", "digest": "d",
       "events": "[]", "n_events": 0, "valid": True, "first_try_valid": math.nan, "attempts": 1, "run_id": "r",
       "baseline_run_id": "b", "status": "failed", "folder": "f", "baseline_folder": "bf", "novelty": 1.0,
       "damage": math.nan, "best_strategy": "", "best_effectiveness": math.nan, "residual_damage": math.nan,
       "mitigated": False, "family": "other", "best_so_far": math.nan}


def test_a_row_has_exactly_the_declared_columns() -> None:
    table = scenario_table([ROW, {**ROW, "budget_index": 2, "status": "ok", "damage": 0.5, "flows": 110,
                                  "cascade_depth": 1, "kpis": object()}])
    assert list(table.columns) == list(ScenarioRow.model_fields)
    assert table["flows"].tolist()[1] == 110 and pd.isna(table["flows"][0])
    with pytest.raises(ValidationError, match="damge"):
        scenario_table([{**ROW, "damge": 1.0}])
    with pytest.raises(ValidationError, match="family"):
        scenario_table([{k: v for k, v in ROW.items() if k != "family"}])


@pytest.mark.ns3
@pytest.mark.slow
def test_the_loop_table_is_typed_and_the_report_refuses_a_table_without_its_columns(abilene_loop,
                                                                                   tmp_path: Path) -> None:
    assert list(abilene_loop.evaluated.columns) == list(ScenarioRow.model_fields)
    folder = tmp_path / "loop"
    shutil.copytree(abilene_loop.folder, folder)
    pd.read_parquet(folder / "evaluated.parquet").drop(columns=["damage"]).to_parquet(folder / "evaluated.parquet")
    with pytest.raises(ReportError, match="columns damage missing"):
        loop_report(folder)

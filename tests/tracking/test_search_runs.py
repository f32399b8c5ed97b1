"""Search: filters, ordering, paging and DataFrames on both metadata backends."""

from __future__ import annotations

import pytest

import modelyard as my
from modelyard.client import Client
from modelyard.errors import InvalidInputError


@pytest.fixture
def runs(client: Client) -> dict[str, str]:
    """Six finished runs with params, tags and metrics (ids by name)."""
    ids: dict[str, str] = {}
    specs = [
        ("r0", "xgb", "risk", [0.7, 0.80], 0.1),
        ("r1", "xgb", "ops", [0.9, 0.95], 0.2),
        ("r2", "rf", "risk", [0.6, 0.50], 0.3),
        ("r3", "rf", "ops", [0.99, 0.97], 0.4),
        ("r4", "lr", "risk", [0.3, 0.40], 0.5),
        ("r5", "lr", None, None, 0.6),
    ]
    for name, model, team, aucs, lr in specs:
        with my.start_run(experiment="churn", name=name, tags={"team": team} if team else None) as run:
            my.log_params(model=model, lr=lr)
            for step, auc in enumerate(aucs or []):
                my.log_metric("auc", auc, step=step)
        ids[name] = run.id
    with my.start_run(experiment="other", name="elsewhere"):
        my.log_metric("auc", 1.0)
    return ids


def names(page: my.RunPage) -> list[str]:
    return [run.name for run in page]


@pytest.mark.parametrize(
    ("flt", "order", "expected"),
    [
        ("metrics.auc > 0.9", "metrics.auc DESC", ["r3", "r1"]),
        ("metrics.auc >= 0.5 and params.model = 'rf'", "name", ["r2", "r3"]),
        ("params.model = 'xgb' or tags.team = 'ops'", "name", ["r0", "r1", "r3"]),
        ("params.model in ('lr', 'rf') and tags.team != 'ops'", "name", ["r2", "r4"]),
        ("max(metrics.auc) > 0.85 and min(metrics.auc) < 0.95", "name", ["r1"]),
        ("tags.team like 'ri%'", "metrics.auc", ["r4", "r2", "r0"]),
        ("attributes.name like 'r_' and not_a_kind.x = 1", None, None),
        ("attributes.status = 'finished' and params.lr = 0.6", None, ["r5"]),
        ("params.model not in ('xgb')", "name", ["r2", "r3", "r4", "r5"]),
        ("(params.model = 'xgb' or params.model = 'rf') and metrics.auc < 0.9", "metrics.auc", ["r2", "r0"]),
    ],
)
def test_filters(runs: dict[str, str], flt: str, order: str | None, expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInputError, match="not_a_kind"):
            my.search_runs("churn", filter=flt)
        return
    assert names(my.search_runs("churn", filter=flt, order_by=[order] if order else None)) == expected


def test_order_puts_missing_values_last_both_ways(runs: dict[str, str]) -> None:
    assert names(my.search_runs("churn", order_by="metrics.auc DESC")) == ["r3", "r1", "r0", "r2", "r4", "r5"]
    assert names(my.search_runs("churn", order_by="metrics.auc")) == ["r4", "r2", "r0", "r1", "r3", "r5"]
    assert names(my.search_runs("churn", order_by=["tags.team", "params.lr DESC"])) == [
        "r3", "r1", "r4", "r2", "r0", "r5",
    ]  # fmt: skip
    assert names(my.search_runs("churn")) == ["r5", "r4", "r3", "r2", "r1", "r0"]  # newest first


def test_paging_with_tokens_visits_every_run_once(runs: dict[str, str]) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = my.search_runs("churn", order_by="params.lr", max_results=4, page_token=token)
        seen += names(page)
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert seen == ["r0", "r1", "r2", "r3", "r4", "r5"]
    assert pages == 2
    first = my.search_runs("churn", order_by="params.lr", max_results=4)
    with pytest.raises(InvalidInputError, match="another search"):
        my.search_runs("churn", order_by="params.lr DESC", max_results=4, page_token=first.next_page_token)


def test_several_experiments_and_bad_arguments(runs: dict[str, str]) -> None:
    both = my.search_runs(["churn", "other"], filter="metrics.auc >= 0.97", order_by="metrics.auc DESC")
    assert names(both) == ["elsewhere", "r3"]
    with pytest.raises(InvalidInputError, match="max_results=0"):
        my.search_runs("churn", max_results=0)
    with pytest.raises(InvalidInputError, match="at least one experiment"):
        my.search_runs([])


def test_to_pandas(runs: dict[str, str]) -> None:
    frame = my.search_runs("churn", order_by="name").to_pandas()
    assert list(frame["name"]) == ["r0", "r1", "r2", "r3", "r4", "r5"]
    assert frame.loc[0, "params.model"] == "xgb"
    assert frame.loc[3, "metrics.auc"] == 0.97
    assert {"tags.team", "status", "run_id"} <= set(frame.columns)

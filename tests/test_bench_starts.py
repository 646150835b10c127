"""emfast bench --starts: the starts benchmark's structure, its verdicts and
its report (tiny sizes; the numbers themselves are the benchmark's)."""

import pytest

from emfast.bench import STARTS_METHODS, format_starts, run_starts, starts_case
from emfast.cli import main


def test_starts_case_counts_hits_against_the_gaps():
    r = starts_case("nested", n_samples=1500, draws=2)
    assert r["dataset"] == "nested" and r["n_components"] == 5
    assert set(r["methods"]) == set(STARTS_METHODS)
    for m in r["methods"].values():
        assert len(m["gaps"]) == 2
        assert min(m["gaps"]) >= 0.0  # the best is at least every fit's
        assert m["hits"] == sum(g <= 1e-3 for g in m["gaps"])
        assert m["rate"] == m["hits"] / 2
    # Small EM finds the tight clusters; k-means does not.
    assert r["methods"]["emfast small-em"]["hits"] == 2
    assert r["methods"]["emfast kmeans"]["hits"] == 0


def test_real_data_sets_compare_with_the_best_fit_of_the_run():
    r = starts_case("iris", draws=2)
    assert r["n_samples"] == 150 and r["n_components"] == 3
    # The best is the best fit of the run: some method has a zero gap, and a
    # method whose two fits differ has a positive gap for the worse one.
    gaps = {m: v["gaps"] for m, v in r["methods"].items()}
    assert min(min(g) for g in gaps.values()) == 0.0
    assert all(len(g) == 2 and min(g) >= 0.0 for g in gaps.values())
    assert sum(v["hits"] for v in r["methods"].values()) >= 2


def test_run_and_format():
    results = run_starts(["elongated"], n_samples=900, draws=1)
    text = format_starts(results)
    assert "| elongated | 900 | 3 | emfast small-em | 1/1 |" in text
    assert "select_model (BIC, K = 1..6, 'full')" in text
    assert results["select"]["draws"] == 1
    with pytest.raises(ValueError, match="Unknown start data set"):
        run_starts(["blobs"], draws=1)


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["bench", "--draws", "2"], "--draws goes with --starts"),
        (["bench", "--starts", "--workloads", "W1"], "drop --workloads"),
        (["bench", "--starts", "--hmm"], "separate runs"),
    ],
)
def test_cli_rejects_bad_combinations(argv, match, capsys):
    assert main(argv) == 1  # a one-line error, as every bad combination
    assert match in capsys.readouterr().err

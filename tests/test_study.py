"""A/B study records: append-only CSV files, and preference rates with binomial intervals."""

import csv

import pytest
from scipy.stats import binomtest

from colorlib import study
from colorlib.study import StudyFileError


def record(choice_side="left", left="tiny", right="true colours", image=0, trial=0,
           participant="ana"):
    return {"participant": participant, "trial": trial, "image": image, "left": left,
            "right": right, "side": choice_side,
            "choice": left if choice_side == "left" else right}


def write_csv(path, rows, header=study.FIELDS):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


# --------------------------------------------------------------------------- intervals


@pytest.mark.parametrize("k,n", [(174, 300), (0, 10), (10, 10), (1, 2), (37, 50), (3, 1000)])
def test_wilson_interval_matches_scipy(k, n):
    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = study.wilson_interval(k, n)
    assert lo == pytest.approx(expected.low, abs=1e-9)
    assert hi == pytest.approx(expected.high, abs=1e-9)


@pytest.mark.parametrize("k,n,conf", [(174, 300, 0.95), (0, 10, 0.95), (10, 10, 0.9),
                                      (7, 20, 0.99)])
def test_clopper_pearson_matches_scipys_exact_interval(k, n, conf):
    expected = binomtest(k, n).proportion_ci(confidence_level=conf, method="exact")
    lo, hi = study.clopper_pearson_interval(k, n, conf)
    assert lo == pytest.approx(expected.low, abs=1e-9)
    assert hi == pytest.approx(expected.high, abs=1e-9)


def test_exact_interval_is_wider_than_wilsons_here():
    w, cp = study.wilson_interval(174, 300), study.clopper_pearson_interval(174, 300)
    assert cp[0] < w[0] and cp[1] > w[1]


@pytest.mark.parametrize("k,n,message", [
    (1, 0, r"no choices to analyse \(n=0\)"),
    (5, 3, "k must be between 0 and n=3, got 5"),
    (-1, 4, "k must be between 0 and n=4, got -1"),
    (1.5, 4, "k and n must be whole numbers of choices, got k=1.5, n=4"),
])
def test_interval_rejects_impossible_counts(k, n, message):
    with pytest.raises(ValueError, match=message):
        study.wilson_interval(k, n)


def test_unknown_method_and_bad_confidence():
    with pytest.raises(ValueError, match="clopper-pearson"):
        study.interval(3, 10, method="wald")
    with pytest.raises(ValueError, match="confidence"):
        study.wilson_interval(3, 10, confidence=95)


# --------------------------------------------------------------------------- the report's study


def test_report_study_reproduces_58_percent(tmp_path):
    path = tmp_path / "report.csv"
    for r in study.report_study_records():
        study.append_choice(path, r)
    pref = study.preference(path, study.REPORT_MODELS[0])
    assert (pref.wins, pref.n) == (174, 300)
    assert round(100 * pref.rate) == 58
    ci = binomtest(174, 300).proportion_ci(method="wilson")
    assert (pref.low, pref.high) == pytest.approx((ci.low, ci.high))
    assert pref.low > 0.5  # the interval excludes "no preference"
    assert "58.0 %" in str(pref) and "Wilson" in str(pref)


def test_preference_per_participant_from_a_recorded_csv(tmp_path):
    rows = [["2026-01-01T00:00:00", "p1", i, i, "a", "b", "left" if i < 3 else "right",
             "a" if i < 3 else "b"] for i in range(4)]
    rows += [["2026-01-01T00:00:00", "p2", i, i, "b", "a", "right", "a"] for i in range(4)]
    path = write_csv(tmp_path / "s.csv", rows)
    pref = study.preference(path, "a", "b")
    assert (pref.wins, pref.n) == (7, 8)
    table = study.preference_table(path)
    assert [(p.option, p.against, p.wins) for p in table] == [("a", "b", 7)]
    bias = study.side_bias(path)
    assert (bias.wins, bias.n) == (3, 8)


def test_preference_of_an_option_never_shown():
    with pytest.raises(ValueError, match="no recorded trial shows 'zhang'"):
        study.preference([record()], "zhang")


# --------------------------------------------------------------------------- the file


def test_append_writes_header_once_and_appends(tmp_path):
    path = tmp_path / "study.csv"
    study.append_choice(path, record("left", trial=0))
    study.append_choice(path, record("right", trial=1))
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(study.FIELDS)
    assert len(lines) == 3 and lines.count(lines[0]) == 1
    rows = study.read_choices(path)
    assert [r["choice"] for r in rows] == ["tiny", "true colours"]


def test_reopening_appends_never_overwrites(tmp_path):
    path = tmp_path / "study.csv"
    study.append_choice(path, record())
    before = path.read_bytes()
    study.append_choice(path, record("right", trial=1))  # as after a kernel restart
    assert path.read_bytes().startswith(before)


def test_foreign_csv_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("name,grade\nana,5\n")
    before = path.read_bytes()
    with pytest.raises(StudyFileError, match="grades.csv is not an A/B study file"):
        study.append_choice(path, record())
    with pytest.raises(StudyFileError, match="grades.csv"):
        study.read_choices(path)
    assert path.read_bytes() == before


def test_malformed_row_names_file_and_line(tmp_path):
    rows = [["t", "p", 0, 0, "a", "b", "left", "a"], ["t", "p", 1, 1, "a", "b", "left", "b"]]
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(StudyFileError, match=r"bad.csv, line 3: choice 'b' is not the version"):
        study.read_choices(path)
    path = write_csv(tmp_path / "short.csv", [["t", "p", 0]])
    with pytest.raises(StudyFileError, match=r"short.csv, line 2: expected 8 columns"):
        study.read_choices(path)


def test_incomplete_last_line_is_refused(tmp_path):
    path = tmp_path / "cut.csv"
    study.append_choice(path, record())
    path.write_bytes(path.read_bytes() + b"2026-01-01,ana,1,")
    before = path.read_bytes()
    with pytest.raises(StudyFileError, match="incomplete line"):
        study.append_choice(path, record(trial=1))
    assert path.read_bytes() == before


def test_inconsistent_record_is_not_written(tmp_path):
    path = tmp_path / "s.csv"
    bad = dict(record(), choice="zhang")
    with pytest.raises(ValueError, match="not the version shown on the left"):
        study.append_choice(path, bad)
    with pytest.raises(ValueError, match="missing"):
        study.append_choice(path, {"side": "left"})
    assert not path.exists()


def test_missing_or_empty_file_has_no_choices(tmp_path):
    assert study.read_choices(tmp_path / "none.csv") == []
    (tmp_path / "empty.csv").write_text("")
    assert study.read_choices(tmp_path / "empty.csv") == []
    assert study.summary(tmp_path / "none.csv") == "no choices recorded yet"

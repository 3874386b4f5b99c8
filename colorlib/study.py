"""Blind A/B studies: record which of two colorizations people find more realistic.

A participant sees two versions of the same image side by side, in random order,
without being told where they come from, and picks the one that looks more
realistic.  Every choice is one row of a CSV file (:data:`FIELDS`)::

    time,participant,trial,image,left,right,side,choice
    2026-03-01T10:15:02,ana,0,17,tiny,true colours,right,true colours

``left`` and ``right`` name the two versions in the order they were shown,
``side`` is the side that was clicked and ``choice`` the version chosen.  The
file is only ever appended to (:func:`append_choice`, with
:func:`colorlib.files.append_csv_row`): a header when it is new, then one flushed and
fsync-ed row per choice, so a crash or a kernel restart
loses at most the click in progress and never the earlier ones.

:func:`preference` turns the rows into a preference rate with a 95 % binomial
confidence interval, Wilson's score interval by default
(:func:`wilson_interval`; :func:`clopper_pearson_interval` is the exact,
more conservative alternative).

The course's source report ran such a study with six participants and 50 image
pairs each (:data:`REPORT_STUDY`): its face colorizer was preferred over Zhang et
al.'s in 174 of 300 choices, 58 %.  The interval treats the 300 choices as
independent; they are not quite (six people made them, each with their own
taste), so the honest uncertainty is somewhat wider.

Example:
    >>> lo, hi = wilson_interval(174, 300)
    >>> round(lo, 3), round(hi, 3)
    (0.523, 0.634)
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from statistics import NormalDist

from .files import append_csv_row

#: the columns of a study file, in order
FIELDS = ("time", "participant", "trial", "image", "left", "right", "side", "choice")

#: confidence-interval methods accepted by :func:`preference`
METHODS = ("wilson", "clopper-pearson")

#: The source report's study (Zhang et al. replicated on faces, 6 participants x 50 pairs):
#: participant -> (choices for the report's model, choices for Zhang et al.'s model).
REPORT_STUDY: dict[str, tuple[int, int]] = {
    "1": (27, 23), "2": (23, 27), "3": (29, 21), "4": (31, 19), "5": (33, 17), "6": (31, 19),
}
REPORT_MODELS = ("faces model (report)", "Zhang et al. (ImageNet)")


class StudyFileError(ValueError):
    """A study CSV that is not in the expected format; the message names the file and line."""


# --------------------------------------------------------------------------- the file


def _header_line() -> str:
    return ",".join(FIELDS)


def _check_header(path: Path) -> None:
    """Raise StudyFileError unless ``path`` starts with exactly the study header."""
    with open(path, encoding="utf-8", newline="") as f:
        first = f.readline()
    if first.rstrip("\r\n") != _header_line():
        shown = first.rstrip("\r\n")
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise StudyFileError(
            f"{path} is not an A/B study file: its first line is {shown!r}, but a study file "
            f"starts with {_header_line()!r}. The file was left untouched; choose another "
            "file name for the study (or move this file away)."
        )


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def append_choice(path: str | os.PathLike, record: Mapping) -> Path:
    """Append one choice to the study file ``path`` and force it to disk.

    A new (or empty) file gets the header first.  An existing file is checked
    before anything is written: if it does not start with the study header, or
    its last line is incomplete, :class:`StudyFileError` is raised and the file
    is left exactly as it was.

    Args:
        path: the CSV file (created with its folder if missing).
        record: a mapping with the keys of :data:`FIELDS`; ``time`` may be left
            out (now, ISO 8601).  ``side`` must be ``"left"`` or ``"right"`` and
            ``choice`` the name shown on that side.

    Returns:
        The path.

    Raises:
        StudyFileError: the existing file is not a study file.
        ValueError: the record is incomplete or inconsistent (nothing written).
    """
    path = Path(path)
    row = {"time": datetime.now().isoformat(timespec="seconds"), **dict(record)}
    missing = [k for k in FIELDS if k not in row]
    extra = [k for k in row if k not in FIELDS]
    if missing or extra:
        raise ValueError(f"a study record needs exactly the keys {', '.join(FIELDS)}; "
                         f"missing {missing}, unexpected {extra}")
    problem = _row_problem({k: str(v) for k, v in row.items()})
    if problem:
        raise ValueError(f"inconsistent study record {row}: {problem}")
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        _check_header(path)
        if not _ends_with_newline(path):
            raise StudyFileError(
                f"{path} ends in an incomplete line (a write was interrupted?). The file was "
                "left untouched; delete its last line in a text editor, then continue."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    append_csv_row(path, list(FIELDS), [row[k] for k in FIELDS], lineterminator="\n")
    return path


def _row_problem(row: Mapping[str, str]) -> str:
    """What is wrong with a row of strings, or '' if nothing."""
    if row["side"] not in ("left", "right"):
        return f"side must be 'left' or 'right', got {row['side']!r}"
    if row["left"] == row["right"]:
        return f"left and right are the same version ({row['left']!r})"
    if row["choice"] != row[row["side"]]:
        return (f"choice {row['choice']!r} is not the version shown on the {row['side']} "
                f"({row[row['side']]!r})")
    try:
        int(row["trial"])
    except ValueError:
        return f"trial must be an integer, got {row['trial']!r}"
    return ""


def read_choices(path: str | os.PathLike) -> list[dict[str, str]]:
    """All choices recorded in the study file ``path``, in order (an empty list if it is new).

    Returns:
        One dict per row with the keys of :data:`FIELDS` (strings; ``trial`` as
        written).  A missing or empty file gives ``[]``.

    Raises:
        StudyFileError: wrong header, a row with the wrong number of columns, or an
            inconsistent row (message: file and line number).  The file is never changed.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return []
    if path.is_dir():
        raise StudyFileError(f"{path} is a folder; give the study's CSV file name")
    _check_header(path)
    records = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for values in reader:
            line = reader.line_num
            if not values:
                continue
            if len(values) != len(FIELDS):
                raise StudyFileError(f"{path}, line {line}: expected {len(FIELDS)} columns "
                                     f"({', '.join(FIELDS)}), found {len(values)}: {values}")
            row = dict(zip(FIELDS, values))
            problem = _row_problem(row)
            if problem:
                raise StudyFileError(f"{path}, line {line}: {problem}")
            records.append(row)
    return records


# --------------------------------------------------------------------------- intervals


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def _check_counts(k: int, n: int) -> None:
    if isinstance(k, bool) or isinstance(n, bool) or int(k) != k or int(n) != n:
        raise ValueError(f"k and n must be whole numbers of choices, got k={k!r}, n={n!r}")
    if n < 1:
        raise ValueError(f"no choices to analyse (n={n}); record some first")
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and n={n}, got {k}")


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion ``k / n``.

    With p = k / n and z the normal quantile (1.96 for 95 %)::

        centre = (p + z^2 / 2n) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)

    Unlike the textbook p +- z sqrt(p (1 - p) / n) it stays inside [0, 1] and
    is not empty when k = 0 or k = n; its coverage is close to the nominal one
    even for a few dozen choices.

    Args:
        k: successes (times an option was preferred), 0 <= k <= n.
        n: trials (choices), n >= 1.
        confidence: e.g. 0.95.

    Returns:
        ``(low, high)``, both in [0, 1].
    """
    _check_counts(k, n)
    z = _z(confidence)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def clopper_pearson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Clopper-Pearson ("exact") interval: quantiles of Beta distributions.

    ``low = Beta(k, n - k + 1).ppf(alpha / 2)`` (0 when k = 0) and
    ``high = Beta(k + 1, n - k).ppf(1 - alpha / 2)`` (1 when k = n), alpha = 1 - confidence.
    It never covers less than the nominal level, so it is wider than Wilson's.

    Returns:
        ``(low, high)``, both in [0, 1].
    """
    from scipy.stats import beta

    _check_counts(k, n)
    alpha = 1 - confidence
    _z(confidence)  # validates confidence
    low = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def interval(k: int, n: int, method: str = "wilson",
             confidence: float = 0.95) -> tuple[float, float]:
    """The confidence interval of ``k / n`` by ``method``: "wilson" or "clopper-pearson"."""
    if method == "wilson":
        return wilson_interval(k, n, confidence)
    if method == "clopper-pearson":
        return clopper_pearson_interval(k, n, confidence)
    raise ValueError(f"unknown interval method {method!r}; choose one of {', '.join(METHODS)}")


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class Preference:
    """How often ``option`` was chosen when it was shown (against ``against``, if given).

    Attributes:
        option: the version counted.  against: the other version, or None for any.
        wins: times ``option`` was chosen.  n: times it was shown.
        rate: wins / n.  low, high: the confidence interval of the rate.
        method: ``"wilson"`` or ``"clopper-pearson"``.  confidence: e.g. 0.95.
    """

    option: str
    against: str | None
    wins: int
    n: int
    rate: float
    low: float
    high: float
    method: str
    confidence: float

    def __str__(self) -> str:
        other = f" over {self.against}" if self.against else ""
        name = "Wilson" if self.method == "wilson" else "Clopper-Pearson"
        return (f"{self.option} preferred{other} in {self.wins} of {self.n} choices: "
                f"{100 * self.rate:.1f} % ({100 * self.confidence:g} % {name} interval "
                f"{100 * self.low:.1f}-{100 * self.high:.1f} %)")


def _records(source) -> list[Mapping[str, str]]:
    if isinstance(source, (str, os.PathLike)):
        return read_choices(source)
    return list(source)


def preference(source, option: str, against: str | None = None, method: str = "wilson",
               confidence: float = 0.95) -> Preference:
    """The rate at which ``option`` was preferred, with a binomial confidence interval.

    Args:
        source: a study file path, or records as returned by :func:`read_choices`.
        option: the version to count (a model name, or ``"true colours"``).
        against: count only the trials of ``option`` against this version.
        method: ``"wilson"`` (default) or ``"clopper-pearson"``.
        confidence: the interval's level, default 0.95.

    Returns:
        :class:`Preference`.

    Raises:
        ValueError: ``option`` (against ``against``) never appears in the records.
    """
    records = _records(source)
    shown = [r for r in records if option in (r["left"], r["right"])
             and (against is None or against in (r["left"], r["right"]))]
    if not shown:
        names = sorted({r["left"] for r in records} | {r["right"] for r in records})
        pair = f"{option!r} against {against!r}" if against else repr(option)
        raise ValueError(f"no recorded trial shows {pair}; the records show "
                         f"{', '.join(names) or 'nothing yet'}")
    wins = sum(r["choice"] == option for r in shown)
    low, high = interval(wins, len(shown), method, confidence)
    return Preference(option, against, wins, len(shown), wins / len(shown), low, high,
                      method, confidence)


def pairs_in(source) -> list[tuple[str, str]]:
    """The distinct pairs of versions compared in the records, each sorted by name."""
    seen: dict[tuple[str, str], None] = {}
    for r in _records(source):
        seen[tuple(sorted((r["left"], r["right"])))] = None
    return list(seen)


def preference_table(source, method: str = "wilson",
                     confidence: float = 0.95) -> list[Preference]:
    """One :class:`Preference` per compared pair, counting the version chosen more often.

    (On a tie, the first name in sorted order.)  So every rate is at least 50 %.
    """
    records = _records(source)
    table = []
    for a, b in pairs_in(records):
        first = preference(records, a, b, method, confidence)
        table.append(first if first.wins * 2 >= first.n else
                     preference(records, b, a, method, confidence))
    return table


def side_bias(source, method: str = "wilson", confidence: float = 0.95) -> Preference:
    """How often the *left* image was chosen: near 50 % if the left/right order does not matter.

    A blind study randomises the order so that a participant who always clicks
    the same side adds noise, not bias; this checks that nobody did too much of it.
    """
    records = _records(source)
    if not records:
        raise ValueError("no choices recorded yet")
    wins = sum(r["side"] == "left" for r in records)
    low, high = interval(wins, len(records), method, confidence)
    return Preference("left side", "right side", wins, len(records), wins / len(records),
                      low, high, method, confidence)


def report_study_records() -> list[dict[str, str]]:
    """The source report's 300 choices (:data:`REPORT_STUDY`) as study records.

    The report gives only per-participant totals, so the trial order and the
    left/right sides here are made up (alternating); counts and names are the report's.
    """
    ours, theirs = REPORT_MODELS
    records = []
    for participant, (n_ours, n_theirs) in REPORT_STUDY.items():
        choices = [ours] * n_ours + [theirs] * n_theirs
        for trial, choice in enumerate(choices):
            left, right = (ours, theirs) if trial % 2 == 0 else (theirs, ours)
            records.append({"time": "", "participant": participant, "trial": str(trial),
                            "image": str(trial), "left": left, "right": right,
                            "side": "left" if choice == left else "right", "choice": choice})
    return records


def summary(source: str | os.PathLike | Iterable, method: str = "wilson") -> str:
    """A few lines of text: every pair's preference and the side bias."""
    records = _records(source)
    if not records:
        return "no choices recorded yet"
    lines = [str(p) for p in preference_table(records, method)]
    lines.append(f"(position check) {side_bias(records, method)}")
    return "\n".join(lines)


__all__ = [
    "FIELDS", "METHODS", "REPORT_MODELS", "REPORT_STUDY", "Preference", "StudyFileError",
    "append_choice", "clopper_pearson_interval", "interval", "pairs_in", "preference",
    "preference_table", "read_choices", "report_study_records", "side_bias", "summary",
    "wilson_interval",
]

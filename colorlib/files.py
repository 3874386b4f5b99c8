"""Writing files safely: a crash never leaves a half-written file behind.

Two ways, for the two kinds of file a training run or a study writes:

=========================  ==========================================================
:func:`atomic_write`       *replace* a whole file (a checkpoint, ``run.json``): all of
                           the new content or, if anything fails, the old file untouched
:func:`append_synced`      *add* to the end of a file (``history.csv``, a study's
                           choices): earlier content is never rewritten or truncated
=========================  ==========================================================

Both force the data to disk (``os.fsync``) before they return, so a power cut or a
Colab disconnect right after them loses nothing.

Example::

    from colorlib.files import append_synced, atomic_write

    with atomic_write("runs/run.json") as f:
        f.write('{"epochs": 10}\\n')
    append_synced("runs/log.txt", "epoch 1 done\\n")
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Write ``path`` all at once or not at all: ``with atomic_write(path) as f: f.write(...)``.

    ``f`` is a temporary file in the same folder as ``path`` (``f.name`` is its path,
    so what was written can be checked inside the block).  When the block ends, the
    file is flushed to disk, given the permissions of the file it replaces (else the
    usual ones for a new file) and renamed onto ``path`` with ``os.replace``, which is
    atomic: a reader sees the old file or the new one, never a mixture.  If the block
    raises, the temporary file is deleted and a file already at ``path`` is left
    exactly as it was.  Missing parent folders are created.

    Args:
        path: the file to write.
        mode: ``"w"`` for text (UTF-8) or ``"wb"`` for bytes.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes a whole file: mode must be 'w' or 'wb', "
                         f"got {mode!r} (to add to a file, use append_synced)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _sync_folder(path.parent)


def append_synced(path: str | os.PathLike, text: str) -> None:
    """Append ``text`` to the end of ``path`` in one write, then force it to disk.

    The file is opened in append mode, so its earlier content is never rewritten,
    truncated or lost; a missing file is created (its folder must exist).  Write
    a whole line (or several) at once: a crash can then lose only the line being
    written.  ``text`` is written as UTF-8, line endings exactly as given.
    """
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def append_csv_row(path: str | os.PathLike, header: list[str], row: list,
                   lineterminator: str = "\r\n") -> None:
    """Append one CSV ``row`` to ``path``, with the ``header`` line first if the file is new.

    Both go out in one :func:`append_synced` write.  ``row`` holds the values in the
    order of the file's columns; ``lineterminator`` is ``csv``'s (default ``"\r\n"``).
    """
    path = Path(path)
    new = not path.exists() or path.stat().st_size == 0
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=lineterminator)
    if new:
        writer.writerow(header)
    writer.writerow(row)
    append_synced(path, text.getvalue())


def _file_mode(path: Path) -> int:
    """Permissions for the new file: those of the file it replaces, else the umask default."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _sync_folder(folder: Path) -> None:
    """Flush the rename itself to disk (POSIX); harmless to skip where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["append_csv_row", "append_synced", "atomic_write"]

"""``python -m colorlib.course COMMAND``: student, execute [NAMES], store-checked, book, all."""

from __future__ import annotations

import argparse
import sys

from . import EXECUTED, solution_paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorlib.course", description=__doc__)
    parser.add_argument("command", choices=["student", "execute", "store-checked", "book", "all"])
    parser.add_argument("names", nargs="*", help="notebooks to execute or store (default: all)")
    args = parser.parse_args(argv)
    if args.command in ("student", "all"):
        from .student import write_students

        for path in write_students():
            print(f"wrote {path.relative_to(path.parents[1])}")
    if args.command in ("execute", "all"):
        from .execute import execute_all

        execute_all(args.names)
    if args.command == "store-checked":
        from .execute import store_checked_outputs

        for path in solution_paths():
            if args.names and path.stem not in args.names and path.name not in args.names:
                continue
            n = store_checked_outputs(EXECUTED / path.name, path)
            print(f"{path.name}: {n} checked cells updated")
    if args.command in ("book", "all"):
        from .book import build

        index = build()
        print(f"\nThe course book is at {index}\n  open it with: python -m webbrowser "
              f"file://{index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

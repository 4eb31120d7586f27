"""Entry point for `python -m tradeguard` and the `tradeguard` script: runs bootstrap.main()."""

from __future__ import annotations

import sys

from tradeguard import bootstrap


def main() -> int:
    return bootstrap.main()


if __name__ == "__main__":
    sys.exit(main())

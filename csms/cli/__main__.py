"""``python -m csms.cli``: the same as ``csms``."""

from csms.cli import main

raise SystemExit(main())

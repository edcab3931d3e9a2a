"""``python -m backend serve | texture | palette | ideas | doctor`` (run from the extension folder)."""

import sys

from .cli import main

sys.exit(main())

"""``python -m backend serve | texture | palette | ideas | doctor`` (run from the extension folder)."""

import os
import sys

# Downloads take huggingface_hub's plain HTTP path, the one the tests run against the hub stand-in:
# its Xet path (hf_xet) writes through a shared blob store and a chunk cache outside the files a
# download lists, which Atelier could not clean up after a cancel. huggingface_hub reads this
# variable once, when it is first imported, so it is set before anything imports it.
os.environ["HF_HUB_DISABLE_XET"] = "1"

from .cli import main  # noqa: E402 - after the variable above

sys.exit(main())

"""`python -m napari_hacbsr`: the `hacbsr` command line."""

import sys

from .cli import main

sys.exit(main())

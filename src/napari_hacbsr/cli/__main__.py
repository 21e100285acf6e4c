"""`python -m napari_hacbsr.cli`: the `hacbsr` command line."""

import sys

from . import main

sys.exit(main())

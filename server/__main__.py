"""`python -m server ...` is `dbgpt-tools ...`."""

import sys

from server.cli import main

sys.exit(main())

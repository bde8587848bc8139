"""Entry point for `python -m engine`."""

import os
import sys

from engine.cli import main

try:
    sys.exit(main())
except BrokenPipeError:
    # The reader went away (`... | head`): say nothing more, as other command-line tools do.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(1)
except KeyboardInterrupt:  # Ctrl-C: a word, not a traceback (130: killed by SIGINT, as shells count it)
    print("interrupted", file=sys.stderr)
    sys.exit(130)

import sys

from edge_asr.cli import main

sys.exit(main())

import sys

from level4.cli import main

sys.exit(main())

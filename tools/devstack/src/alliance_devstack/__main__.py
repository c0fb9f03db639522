import sys

from alliance_devstack.cli import main

sys.exit(main())

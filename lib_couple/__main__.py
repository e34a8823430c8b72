import sys

from lib_couple.cli import main

sys.exit(main())

import sys

from hopformer.cli import main

sys.exit(main())

import sys

from .preload import main

sys.exit(main())

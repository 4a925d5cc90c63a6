"""`python -m release.demo`."""

from release.demo.run import main

raise SystemExit(main())

from lrmo.cli import main

raise SystemExit(main())

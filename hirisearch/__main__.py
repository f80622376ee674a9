from hirisearch.cli import main

raise SystemExit(main())

from smartcloudops.cli import main

raise SystemExit(main())

from ecabinet.cli import main

raise SystemExit(main())

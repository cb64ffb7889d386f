from ecabinet.samples import main

raise SystemExit(main())

"""What every capability runs in: who acts, the command context and the command pipeline both
transports call (``pipeline``), events, joining, snapshots, live views."""

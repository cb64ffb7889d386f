"""What every capability runs in: who acts, the command context, events, snapshots, live views."""

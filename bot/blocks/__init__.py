"""Pure Block Kit builders: plain values in, blocks out. No Slack calls, no database."""

"""Use cases the window and the CLI both call; they take and return plain data."""

"""SQLite storage: typed models, the engine with its write discipline, migrations."""

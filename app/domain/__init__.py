"""Plain dataclasses and rules of the comprehensive window; no I/O, no Qt."""

"""Capture: the applicant's paper into the case. Sources that need no Qt (SANE, eSCL, a
watched folder, file import, a fake source) and the image pipeline (pure functions:
outline and perspective for camera frames, deskew for scans, blank pages, JPEG with its
DPI). The document camera's live source is Qt's and lives in ``ui/``."""

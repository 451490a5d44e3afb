"""Capture in the window: the scan panel of the acceptance screen, its thumbnails, the
page zoom (the document camera's live view is :mod:`ui.capture.camera`)."""

"""The reference central server (县级服务器) of 一窗通: accounts and devices, reference
data, the sync endpoints, blobs and the hall's shared queue (issue 11; being built).

It shares the client's core (``app.domain``, the password hashing of
``app.services.accounts``) and never imports Qt or the window. ``docs/sync-protocol.md``
is the protocol it serves.
"""

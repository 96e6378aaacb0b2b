"""Offline intake (离线受理): the service worker, the app shell and the idempotent intake API."""

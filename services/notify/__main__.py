"""`python -m services.notify`: run the notification service on the shared runtime."""

from __future__ import annotations

import sys

from services.notify.config import NotifySettings
from services.notify.service import build_notify_service
from shared.runtime import run_service

if __name__ == "__main__":
    sys.exit(run_service("notify", NotifySettings, build_notify_service))

"""Suite-wide test settings: hypothesis without its per-example deadline.

CI runs on a loaded 2-core machine, where one example can take longer than hypothesis's 200 ms
default for reasons that are no bug, so every hypothesis test runs without a deadline (a test
may still set its own example count). `HYPOTHESIS_PROFILE` picks another registered profile.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

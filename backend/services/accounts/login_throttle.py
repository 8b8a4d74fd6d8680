"""Throttling console sign-in: slow a guesser down, never let a stranger lock a user out.

Failed sign-ins are counted in the rate-limit storage (Redis in production), never on the user
row, and unknown usernames are counted exactly like real ones, so the throttle tells nothing
about who exists:

- per address: past ADDRESS failures the address is answered 429 for the rest of the window,
  whichever names it tries;
- per account and address: past PAIR failures that address may not try that account until
  the window ends; another address may;
- per account: past ACCOUNT failures from anywhere (a guesser spread over many addresses),
  only a browser the user has signed in from before (its device cookie names the user) may
  still try, with a PAIR budget of its own. The user's own browser therefore always gets in
  with the right password, whatever strangers do.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.strategies import RateLimiter

ADDRESS = RateLimitItemPerMinute(20, 15)
PAIR = RateLimitItemPerMinute(5, 15)
ACCOUNT = RateLimitItemPerHour(30)


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt: the name typed, the client address, a known device if any."""

    username: str
    address: str
    device: str | None = None  # set only when the device cookie names this username


class LoginThrottle:
    """Counts failures and says whether an attempt may be checked at all."""

    def __init__(self, limiter: RateLimiter, now: float) -> None:
        self.limiter, self.now = limiter, now

    def address_wait(self, address: str) -> int | None:
        """Return the seconds an address must wait before trying again, if it must."""
        if self.limiter.test(ADDRESS, "login-address", address):
            return None
        reset = self.limiter.get_window_stats(ADDRESS, "login-address", address).reset_time
        return max(1, int(reset - self.now) + 1)

    def closed(self, attempt: Attempt) -> bool:
        """Tell whether the account must refuse this attempt whatever the password."""
        if attempt.device is not None:
            return not self.limiter.test(PAIR, *self._device(attempt))
        return not (self.limiter.test(PAIR, *self._pair(attempt))
                    and self.limiter.test(ACCOUNT, "login-account", attempt.username))

    def failed(self, attempt: Attempt) -> bool:
        """Count a failure; return whether it has just closed the account to this attempt."""
        was_closed = self.closed(attempt)
        self.limiter.hit(ADDRESS, "login-address", attempt.address)
        if attempt.device is not None:
            self.limiter.hit(PAIR, *self._device(attempt))
        else:
            self.limiter.hit(PAIR, *self._pair(attempt))
            self.limiter.hit(ACCOUNT, "login-account", attempt.username)
        return not was_closed and self.closed(attempt)

    def succeeded(self, attempt: Attempt) -> None:
        """Forget the failures of this account from this address or device."""
        self.limiter.clear(PAIR, *self._pair(attempt))
        if attempt.device is not None:
            self.limiter.clear(PAIR, *self._device(attempt))

    def lock_ends(self, attempt: Attempt) -> float:
        """Return when the account opens again to this attempt (epoch seconds)."""
        keys = self._device(attempt) if attempt.device is not None else self._pair(attempt)
        return self.limiter.get_window_stats(PAIR, *keys).reset_time

    @staticmethod
    def _pair(attempt: Attempt) -> tuple[str, ...]:
        return ("login-pair", attempt.username, attempt.address)

    @staticmethod
    def _device(attempt: Attempt) -> tuple[str, ...]:
        return ("login-device", attempt.username, attempt.device or "")

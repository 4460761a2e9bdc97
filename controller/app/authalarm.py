"""The `authentication-failures` alarm (sdqn-alarms, RFC 8632) for brute-force lockouts.

The guard (controller.netconf.authguard) is below the service layer and knows nothing
about alarms; this wiring raises the alarm on the ietf-alarms list in <operational>
when a user is locked out from an address and clears it when the lockout expires.
"""

from __future__ import annotations

from controller.netconf.authguard import AuthGuard
from controller.service.alarms import AlarmKey, AlarmManager, Severity

ALARM_TYPE = "sdqn-alarms:authentication-failures"


def lockout_key(user: str, peer: str) -> AlarmKey:
    """RFC 8632 `resource` is any string when the resource is not YANG data: the pair."""
    return AlarmKey(f"user {user} from {peer}", ALARM_TYPE)


def raise_lockout_alarms(guard: AuthGuard, alarms: AlarmManager) -> None:
    def locked(user: str, peer: str, interface: str) -> None:
        alarms.raise_alarm(lockout_key(user, peer), Severity.WARNING,
                           f"too many failed logins of {user} from {peer} ({interface}); "
                           "locked out")

    def released(user: str, peer: str, _interface: str) -> None:
        alarms.clear_alarm(lockout_key(user, peer), f"lockout of {user} from {peer} expired")

    guard.on_lockout = locked
    guard.on_release = released

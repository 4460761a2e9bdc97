"""The ietf-alarms actions the controller runs (RFC 8632 §4.7): set-operator-state on an
alarm, for every northbound through controller.netconf.actions (which has already applied
NACM, checked that the alarm is listed and validated the input against the schema)."""

from __future__ import annotations

from typing import Any

from controller.errors import ErrorTag, ErrorType, NetconfError
from controller.netconf.core import ActionCall, ActionHandler
from controller.service.alarms import LIST_PATH, AlarmKey, AlarmManager

SET_OPERATOR_STATE = f"{LIST_PATH}/alarm/set-operator-state"


def alarm_action_handlers(alarms: AlarmManager) -> dict[str, ActionHandler]:
    def set_operator_state(call: ActionCall) -> dict[str, Any] | None:
        key = AlarmKey(call.keys["resource"], call.keys["alarm-type-id"],
                       call.keys.get("alarm-type-qualifier", ""))
        state = str(call.input.get("state", ""))
        text = call.input.get("text")
        try:
            # RFC 8632 operator-parameters: `operator` is who acted: the authenticated user
            alarms.set_operator_state(key, state, call.username,
                                      str(text) if text is not None else None)
        except KeyError:
            # listed when the call was checked, purged since
            raise NetconfError.of(ErrorTag.DATA_MISSING, f"no alarm {call.instance}",
                                  path=call.instance) from None
        except ValueError as exc:
            raise NetconfError.of(ErrorTag.INVALID_VALUE, str(exc), path=call.instance,
                                  type=ErrorType.APPLICATION) from None
        return None

    return {SET_OPERATOR_STATE: set_operator_state}

from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Application(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPLICATION_UNSPECIFIED: _ClassVar[Application]
    APPLICATION_QKD: _ClassVar[Application]
    APPLICATION_DQC: _ClassVar[Application]
    APPLICATION_DQS: _ClassVar[Application]
    APPLICATION_TELEPORTATION: _ClassVar[Application]
    APPLICATION_DISTILLATION: _ClassVar[Application]

class Target(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TARGET_UNSPECIFIED: _ClassVar[Target]
    TARGET_RUNNING: _ClassVar[Target]
    TARGET_CANDIDATE: _ClassVar[Target]
APPLICATION_UNSPECIFIED: Application
APPLICATION_QKD: Application
APPLICATION_DQC: Application
APPLICATION_DQS: Application
APPLICATION_TELEPORTATION: Application
APPLICATION_DISTILLATION: Application
TARGET_UNSPECIFIED: Target
TARGET_RUNNING: Target
TARGET_CANDIDATE: Target

class EntanglementRequest(_message.Message):
    __slots__ = ("name", "source_node", "destination_node", "application", "min_fidelity", "demanded_rate", "weight", "priority", "enabled", "threshold_fidelity", "steepness", "slice")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NODE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_NODE_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    MIN_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    DEMANDED_RATE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    STEEPNESS_FIELD_NUMBER: _ClassVar[int]
    SLICE_FIELD_NUMBER: _ClassVar[int]
    name: str
    source_node: str
    destination_node: str
    application: Application
    min_fidelity: float
    demanded_rate: float
    weight: float
    priority: int
    enabled: bool
    threshold_fidelity: float
    steepness: float
    slice: str
    def __init__(self, name: _Optional[str] = ..., source_node: _Optional[str] = ..., destination_node: _Optional[str] = ..., application: _Optional[_Union[Application, str]] = ..., min_fidelity: _Optional[float] = ..., demanded_rate: _Optional[float] = ..., weight: _Optional[float] = ..., priority: _Optional[int] = ..., enabled: _Optional[bool] = ..., threshold_fidelity: _Optional[float] = ..., steepness: _Optional[float] = ..., slice: _Optional[str] = ...) -> None: ...

class RequestState(_message.Message):
    __slots__ = ("admission", "rejection_reason", "path", "purification_rounds", "purification_protocol", "predicted_rate", "predicted_fidelity", "measured_rate", "measured_fidelity", "utility", "oper_state", "last_change")
    ADMISSION_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PURIFICATION_ROUNDS_FIELD_NUMBER: _ClassVar[int]
    PURIFICATION_PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_RATE_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    MEASURED_RATE_FIELD_NUMBER: _ClassVar[int]
    MEASURED_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    UTILITY_FIELD_NUMBER: _ClassVar[int]
    OPER_STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_CHANGE_FIELD_NUMBER: _ClassVar[int]
    admission: str
    rejection_reason: str
    path: _containers.RepeatedScalarFieldContainer[str]
    purification_rounds: int
    purification_protocol: str
    predicted_rate: float
    predicted_fidelity: float
    measured_rate: float
    measured_fidelity: float
    utility: float
    oper_state: str
    last_change: str
    def __init__(self, admission: _Optional[str] = ..., rejection_reason: _Optional[str] = ..., path: _Optional[_Iterable[str]] = ..., purification_rounds: _Optional[int] = ..., purification_protocol: _Optional[str] = ..., predicted_rate: _Optional[float] = ..., predicted_fidelity: _Optional[float] = ..., measured_rate: _Optional[float] = ..., measured_fidelity: _Optional[float] = ..., utility: _Optional[float] = ..., oper_state: _Optional[str] = ..., last_change: _Optional[str] = ...) -> None: ...

class RequestStatus(_message.Message):
    __slots__ = ("request", "state")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    request: EntanglementRequest
    state: RequestState
    def __init__(self, request: _Optional[_Union[EntanglementRequest, _Mapping]] = ..., state: _Optional[_Union[RequestState, _Mapping]] = ...) -> None: ...

class SubmitRequestRequest(_message.Message):
    __slots__ = ("request", "target")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    request: EntanglementRequest
    target: Target
    def __init__(self, request: _Optional[_Union[EntanglementRequest, _Mapping]] = ..., target: _Optional[_Union[Target, str]] = ...) -> None: ...

class SubmitRequestResponse(_message.Message):
    __slots__ = ("datastore", "version", "candidate_dirty")
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_DIRTY_FIELD_NUMBER: _ClassVar[int]
    datastore: str
    version: int
    candidate_dirty: bool
    def __init__(self, datastore: _Optional[str] = ..., version: _Optional[int] = ..., candidate_dirty: _Optional[bool] = ...) -> None: ...

class ModifyRequestRequest(_message.Message):
    __slots__ = ("request", "target")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    request: EntanglementRequest
    target: Target
    def __init__(self, request: _Optional[_Union[EntanglementRequest, _Mapping]] = ..., target: _Optional[_Union[Target, str]] = ...) -> None: ...

class ModifyRequestResponse(_message.Message):
    __slots__ = ("datastore", "version", "candidate_dirty")
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_DIRTY_FIELD_NUMBER: _ClassVar[int]
    datastore: str
    version: int
    candidate_dirty: bool
    def __init__(self, datastore: _Optional[str] = ..., version: _Optional[int] = ..., candidate_dirty: _Optional[bool] = ...) -> None: ...

class WithdrawRequestRequest(_message.Message):
    __slots__ = ("name", "target")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    name: str
    target: Target
    def __init__(self, name: _Optional[str] = ..., target: _Optional[_Union[Target, str]] = ...) -> None: ...

class WithdrawRequestResponse(_message.Message):
    __slots__ = ("datastore", "version", "candidate_dirty")
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_DIRTY_FIELD_NUMBER: _ClassVar[int]
    datastore: str
    version: int
    candidate_dirty: bool
    def __init__(self, datastore: _Optional[str] = ..., version: _Optional[int] = ..., candidate_dirty: _Optional[bool] = ...) -> None: ...

class ListRequestsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRequestsResponse(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[RequestStatus]
    def __init__(self, requests: _Optional[_Iterable[_Union[RequestStatus, _Mapping]]] = ...) -> None: ...

class GetRequestRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetRequestResponse(_message.Message):
    __slots__ = ("request", "state")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    request: EntanglementRequest
    state: RequestState
    def __init__(self, request: _Optional[_Union[EntanglementRequest, _Mapping]] = ..., state: _Optional[_Union[RequestState, _Mapping]] = ...) -> None: ...

class GetTopologyRequest(_message.Message):
    __slots__ = ("network_id",)
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    def __init__(self, network_id: _Optional[str] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("network_id", "node_id", "device_kind", "memory_qubits", "coherence_time", "oper_status")
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_KIND_FIELD_NUMBER: _ClassVar[int]
    MEMORY_QUBITS_FIELD_NUMBER: _ClassVar[int]
    COHERENCE_TIME_FIELD_NUMBER: _ClassVar[int]
    OPER_STATUS_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    node_id: str
    device_kind: str
    memory_qubits: int
    coherence_time: float
    oper_status: str
    def __init__(self, network_id: _Optional[str] = ..., node_id: _Optional[str] = ..., device_kind: _Optional[str] = ..., memory_qubits: _Optional[int] = ..., coherence_time: _Optional[float] = ..., oper_status: _Optional[str] = ...) -> None: ...

class Link(_message.Message):
    __slots__ = ("network_id", "link_id", "source", "destination", "fibre_length_km", "link_fidelity", "measured_fidelity", "qber", "generation_rate", "oper_status")
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    FIBRE_LENGTH_KM_FIELD_NUMBER: _ClassVar[int]
    LINK_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    MEASURED_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    QBER_FIELD_NUMBER: _ClassVar[int]
    GENERATION_RATE_FIELD_NUMBER: _ClassVar[int]
    OPER_STATUS_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    link_id: str
    source: str
    destination: str
    fibre_length_km: float
    link_fidelity: float
    measured_fidelity: float
    qber: float
    generation_rate: float
    oper_status: str
    def __init__(self, network_id: _Optional[str] = ..., link_id: _Optional[str] = ..., source: _Optional[str] = ..., destination: _Optional[str] = ..., fibre_length_km: _Optional[float] = ..., link_fidelity: _Optional[float] = ..., measured_fidelity: _Optional[float] = ..., qber: _Optional[float] = ..., generation_rate: _Optional[float] = ..., oper_status: _Optional[str] = ...) -> None: ...

class GetTopologyResponse(_message.Message):
    __slots__ = ("nodes", "links")
    NODES_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    links: _containers.RepeatedCompositeFieldContainer[Link]
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ..., links: _Optional[_Iterable[_Union[Link, _Mapping]]] = ...) -> None: ...

class SolveSummary(_message.Message):
    __slots__ = ("status", "objective", "bound", "gap", "solve_time_s", "admitted", "rejected", "timestamp")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    SOLVE_TIME_S_FIELD_NUMBER: _ClassVar[int]
    ADMITTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    status: str
    objective: float
    bound: float
    gap: float
    solve_time_s: float
    admitted: int
    rejected: int
    timestamp: str
    def __init__(self, status: _Optional[str] = ..., objective: _Optional[float] = ..., bound: _Optional[float] = ..., gap: _Optional[float] = ..., solve_time_s: _Optional[float] = ..., admitted: _Optional[int] = ..., rejected: _Optional[int] = ..., timestamp: _Optional[str] = ...) -> None: ...

class DeviceSync(_message.Message):
    __slots__ = ("node_id", "adapter", "connection_state", "sync_state", "last_error")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_STATE_FIELD_NUMBER: _ClassVar[int]
    SYNC_STATE_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    adapter: str
    connection_state: str
    sync_state: str
    last_error: str
    def __init__(self, node_id: _Optional[str] = ..., adapter: _Optional[str] = ..., connection_state: _Optional[str] = ..., sync_state: _Optional[str] = ..., last_error: _Optional[str] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMetricsResponse(_message.Message):
    __slots__ = ("last_solve", "requests", "links", "devices", "running_version", "operational_version")
    LAST_SOLVE_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    RUNNING_VERSION_FIELD_NUMBER: _ClassVar[int]
    OPERATIONAL_VERSION_FIELD_NUMBER: _ClassVar[int]
    last_solve: SolveSummary
    requests: _containers.RepeatedCompositeFieldContainer[RequestStatus]
    links: _containers.RepeatedCompositeFieldContainer[Link]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceSync]
    running_version: int
    operational_version: int
    def __init__(self, last_solve: _Optional[_Union[SolveSummary, _Mapping]] = ..., requests: _Optional[_Iterable[_Union[RequestStatus, _Mapping]]] = ..., links: _Optional[_Iterable[_Union[Link, _Mapping]]] = ..., devices: _Optional[_Iterable[_Union[DeviceSync, _Mapping]]] = ..., running_version: _Optional[int] = ..., operational_version: _Optional[int] = ...) -> None: ...

class Alarm(_message.Message):
    __slots__ = ("resource", "alarm_type_id", "alarm_type_qualifier", "perceived_severity", "is_cleared", "alarm_text", "last_changed")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ALARM_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    ALARM_TYPE_QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    PERCEIVED_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    IS_CLEARED_FIELD_NUMBER: _ClassVar[int]
    ALARM_TEXT_FIELD_NUMBER: _ClassVar[int]
    LAST_CHANGED_FIELD_NUMBER: _ClassVar[int]
    resource: str
    alarm_type_id: str
    alarm_type_qualifier: str
    perceived_severity: str
    is_cleared: bool
    alarm_text: str
    last_changed: str
    def __init__(self, resource: _Optional[str] = ..., alarm_type_id: _Optional[str] = ..., alarm_type_qualifier: _Optional[str] = ..., perceived_severity: _Optional[str] = ..., is_cleared: _Optional[bool] = ..., alarm_text: _Optional[str] = ..., last_changed: _Optional[str] = ...) -> None: ...

class ListAlarmsRequest(_message.Message):
    __slots__ = ("include_cleared",)
    INCLUDE_CLEARED_FIELD_NUMBER: _ClassVar[int]
    include_cleared: bool
    def __init__(self, include_cleared: _Optional[bool] = ...) -> None: ...

class ListAlarmsResponse(_message.Message):
    __slots__ = ("alarms",)
    ALARMS_FIELD_NUMBER: _ClassVar[int]
    alarms: _containers.RepeatedCompositeFieldContainer[Alarm]
    def __init__(self, alarms: _Optional[_Iterable[_Union[Alarm, _Mapping]]] = ...) -> None: ...

class AcknowledgeAlarmRequest(_message.Message):
    __slots__ = ("resource", "alarm_type_id", "alarm_type_qualifier", "state", "text")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ALARM_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    ALARM_TYPE_QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    resource: str
    alarm_type_id: str
    alarm_type_qualifier: str
    state: str
    text: str
    def __init__(self, resource: _Optional[str] = ..., alarm_type_id: _Optional[str] = ..., alarm_type_qualifier: _Optional[str] = ..., state: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class AcknowledgeAlarmResponse(_message.Message):
    __slots__ = ("time", "operator", "state")
    TIME_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    time: str
    operator: str
    state: str
    def __init__(self, time: _Optional[str] = ..., operator: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class CalibrateApcRequest(_message.Message):
    __slots__ = ("node_id", "force")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    force: bool
    def __init__(self, node_id: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class CalibrateApcResponse(_message.Message):
    __slots__ = ("result", "expected_duration_s")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    result: str
    expected_duration_s: float
    def __init__(self, result: _Optional[str] = ..., expected_duration_s: _Optional[float] = ...) -> None: ...

class StartDrillRequest(_message.Message):
    __slots__ = ("fault_kind",)
    FAULT_KIND_FIELD_NUMBER: _ClassVar[int]
    fault_kind: str
    def __init__(self, fault_kind: _Optional[str] = ...) -> None: ...

class StartDrillResponse(_message.Message):
    __slots__ = ("drill_id", "started")
    DRILL_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    drill_id: str
    started: str
    def __init__(self, drill_id: _Optional[str] = ..., started: _Optional[str] = ...) -> None: ...

class SubmitLocalisationRequest(_message.Message):
    __slots__ = ("drill_id", "resource")
    DRILL_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    drill_id: str
    resource: str
    def __init__(self, drill_id: _Optional[str] = ..., resource: _Optional[str] = ...) -> None: ...

class DrillScore(_message.Message):
    __slots__ = ("correct", "credit", "time_to_localise_s", "score")
    CORRECT_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_LOCALISE_S_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    correct: bool
    credit: float
    time_to_localise_s: float
    score: int
    def __init__(self, correct: _Optional[bool] = ..., credit: _Optional[float] = ..., time_to_localise_s: _Optional[float] = ..., score: _Optional[int] = ...) -> None: ...

class SubmitLocalisationResponse(_message.Message):
    __slots__ = ("score",)
    SCORE_FIELD_NUMBER: _ClassVar[int]
    score: DrillScore
    def __init__(self, score: _Optional[_Union[DrillScore, _Mapping]] = ...) -> None: ...

class EndDrillRequest(_message.Message):
    __slots__ = ("drill_id",)
    DRILL_ID_FIELD_NUMBER: _ClassVar[int]
    drill_id: str
    def __init__(self, drill_id: _Optional[str] = ...) -> None: ...

class DrillFault(_message.Message):
    __slots__ = ("kind", "target")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    kind: str
    target: str
    def __init__(self, kind: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class EndDrillResponse(_message.Message):
    __slots__ = ("fault", "score")
    FAULT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    fault: DrillFault
    score: DrillScore
    def __init__(self, fault: _Optional[_Union[DrillFault, _Mapping]] = ..., score: _Optional[_Union[DrillScore, _Mapping]] = ...) -> None: ...

class ListDrillsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Drill(_message.Message):
    __slots__ = ("drill_id", "state", "started", "ended", "fault", "answered_resource", "score")
    DRILL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    FAULT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    drill_id: str
    state: str
    started: str
    ended: str
    fault: DrillFault
    answered_resource: str
    score: DrillScore
    def __init__(self, drill_id: _Optional[str] = ..., state: _Optional[str] = ..., started: _Optional[str] = ..., ended: _Optional[str] = ..., fault: _Optional[_Union[DrillFault, _Mapping]] = ..., answered_resource: _Optional[str] = ..., score: _Optional[_Union[DrillScore, _Mapping]] = ...) -> None: ...

class ListDrillsResponse(_message.Message):
    __slots__ = ("drills",)
    DRILLS_FIELD_NUMBER: _ClassVar[int]
    drills: _containers.RepeatedCompositeFieldContainer[Drill]
    def __init__(self, drills: _Optional[_Iterable[_Union[Drill, _Mapping]]] = ...) -> None: ...

class WhatIfRequest(_message.Message):
    __slots__ = ("upsert", "withdraw", "time_limit_s")
    UPSERT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAW_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    upsert: _containers.RepeatedCompositeFieldContainer[EntanglementRequest]
    withdraw: _containers.RepeatedScalarFieldContainer[str]
    time_limit_s: float
    def __init__(self, upsert: _Optional[_Iterable[_Union[EntanglementRequest, _Mapping]]] = ..., withdraw: _Optional[_Iterable[str]] = ..., time_limit_s: _Optional[float] = ...) -> None: ...

class PlannedRequest(_message.Message):
    __slots__ = ("name", "admitted", "path", "purification_rounds", "predicted_rate", "predicted_fidelity", "utility", "rejection_reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADMITTED_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    PURIFICATION_ROUNDS_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_RATE_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_FIDELITY_FIELD_NUMBER: _ClassVar[int]
    UTILITY_FIELD_NUMBER: _ClassVar[int]
    REJECTION_REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    admitted: bool
    path: _containers.RepeatedScalarFieldContainer[str]
    purification_rounds: int
    predicted_rate: float
    predicted_fidelity: float
    utility: float
    rejection_reason: str
    def __init__(self, name: _Optional[str] = ..., admitted: _Optional[bool] = ..., path: _Optional[_Iterable[str]] = ..., purification_rounds: _Optional[int] = ..., predicted_rate: _Optional[float] = ..., predicted_fidelity: _Optional[float] = ..., utility: _Optional[float] = ..., rejection_reason: _Optional[str] = ...) -> None: ...

class LeafChange(_message.Message):
    __slots__ = ("operation", "path", "value", "previous")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    operation: str
    path: str
    value: str
    previous: str
    def __init__(self, operation: _Optional[str] = ..., path: _Optional[str] = ..., value: _Optional[str] = ..., previous: _Optional[str] = ...) -> None: ...

class DeviceDiff(_message.Message):
    __slots__ = ("node_id", "changes", "network_commit", "network_label")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    NETWORK_COMMIT_FIELD_NUMBER: _ClassVar[int]
    NETWORK_LABEL_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    changes: _containers.RepeatedCompositeFieldContainer[LeafChange]
    network_commit: str
    network_label: str
    def __init__(self, node_id: _Optional[str] = ..., changes: _Optional[_Iterable[_Union[LeafChange, _Mapping]]] = ..., network_commit: _Optional[str] = ..., network_label: _Optional[str] = ...) -> None: ...

class WhatIfResponse(_message.Message):
    __slots__ = ("solve", "requests", "device_diff_available", "devices", "notes", "pushed")
    SOLVE_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_DIFF_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    PUSHED_FIELD_NUMBER: _ClassVar[int]
    solve: SolveSummary
    requests: _containers.RepeatedCompositeFieldContainer[PlannedRequest]
    device_diff_available: bool
    devices: _containers.RepeatedCompositeFieldContainer[DeviceDiff]
    notes: _containers.RepeatedScalarFieldContainer[str]
    pushed: bool
    def __init__(self, solve: _Optional[_Union[SolveSummary, _Mapping]] = ..., requests: _Optional[_Iterable[_Union[PlannedRequest, _Mapping]]] = ..., device_diff_available: _Optional[bool] = ..., devices: _Optional[_Iterable[_Union[DeviceDiff, _Mapping]]] = ..., notes: _Optional[_Iterable[str]] = ..., pushed: _Optional[bool] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ("label", "comment")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    label: str
    comment: str
    def __init__(self, label: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ("commit_id", "seq", "label", "changed", "solve", "comment")
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    SOLVE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    commit_id: str
    seq: int
    label: str
    changed: bool
    solve: SolveSummary
    comment: str
    def __init__(self, commit_id: _Optional[str] = ..., seq: _Optional[int] = ..., label: _Optional[str] = ..., changed: _Optional[bool] = ..., solve: _Optional[_Union[SolveSummary, _Mapping]] = ..., comment: _Optional[str] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("commit_id", "steps", "label", "comment")
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    commit_id: str
    steps: int
    label: str
    comment: str
    def __init__(self, commit_id: _Optional[str] = ..., steps: _Optional[int] = ..., label: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class RollbackResponse(_message.Message):
    __slots__ = ("commit_id", "seq", "label", "changed", "solve", "comment")
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    SOLVE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    commit_id: str
    seq: int
    label: str
    changed: bool
    solve: SolveSummary
    comment: str
    def __init__(self, commit_id: _Optional[str] = ..., seq: _Optional[int] = ..., label: _Optional[str] = ..., changed: _Optional[bool] = ..., solve: _Optional[_Union[SolveSummary, _Mapping]] = ..., comment: _Optional[str] = ...) -> None: ...

class CommitRecord(_message.Message):
    __slots__ = ("commit_id", "seq", "label", "user", "timestamp", "kind", "source_host", "comment")
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HOST_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    commit_id: str
    seq: int
    label: str
    user: str
    timestamp: float
    kind: str
    source_host: str
    comment: str
    def __init__(self, commit_id: _Optional[str] = ..., seq: _Optional[int] = ..., label: _Optional[str] = ..., user: _Optional[str] = ..., timestamp: _Optional[float] = ..., kind: _Optional[str] = ..., source_host: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class ListCommitsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListCommitsResponse(_message.Message):
    __slots__ = ("commits",)
    COMMITS_FIELD_NUMBER: _ClassVar[int]
    commits: _containers.RepeatedCompositeFieldContainer[CommitRecord]
    def __init__(self, commits: _Optional[_Iterable[_Union[CommitRecord, _Mapping]]] = ...) -> None: ...

class ShowCommitRequest(_message.Message):
    __slots__ = ("commit_id",)
    COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    commit_id: str
    def __init__(self, commit_id: _Optional[str] = ...) -> None: ...

class ShowCommitResponse(_message.Message):
    __slots__ = ("commit", "changes", "devices", "impact")
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    IMPACT_FIELD_NUMBER: _ClassVar[int]
    commit: CommitRecord
    changes: _containers.RepeatedCompositeFieldContainer[LeafChange]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceDiff]
    impact: DryRunResponse
    def __init__(self, commit: _Optional[_Union[CommitRecord, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[LeafChange, _Mapping]]] = ..., devices: _Optional[_Iterable[_Union[DeviceDiff, _Mapping]]] = ..., impact: _Optional[_Union[DryRunResponse, _Mapping]] = ...) -> None: ...

class DiffCommitsRequest(_message.Message):
    __slots__ = ("from_commit_id", "to_commit_id")
    FROM_COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    TO_COMMIT_ID_FIELD_NUMBER: _ClassVar[int]
    from_commit_id: str
    to_commit_id: str
    def __init__(self, from_commit_id: _Optional[str] = ..., to_commit_id: _Optional[str] = ...) -> None: ...

class DiffCommitsResponse(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[LeafChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[LeafChange, _Mapping]]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("alarms", "services", "config", "links")
    ALARMS_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    alarms: bool
    services: bool
    config: bool
    links: bool
    def __init__(self, alarms: _Optional[bool] = ..., services: _Optional[bool] = ..., config: _Optional[bool] = ..., links: _Optional[bool] = ...) -> None: ...

class LinkStateChange(_message.Message):
    __slots__ = ("network_id", "link_id", "oper_status")
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    OPER_STATUS_FIELD_NUMBER: _ClassVar[int]
    network_id: str
    link_id: str
    oper_status: str
    def __init__(self, network_id: _Optional[str] = ..., link_id: _Optional[str] = ..., oper_status: _Optional[str] = ...) -> None: ...

class ServiceStateChange(_message.Message):
    __slots__ = ("name", "oper_state", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPER_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    oper_state: str
    reason: str
    def __init__(self, name: _Optional[str] = ..., oper_state: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AlarmEvent(_message.Message):
    __slots__ = ("resource", "alarm_type_id", "alarm_type_qualifier", "perceived_severity")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ALARM_TYPE_ID_FIELD_NUMBER: _ClassVar[int]
    ALARM_TYPE_QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    PERCEIVED_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    resource: str
    alarm_type_id: str
    alarm_type_qualifier: str
    perceived_severity: str
    def __init__(self, resource: _Optional[str] = ..., alarm_type_id: _Optional[str] = ..., alarm_type_qualifier: _Optional[str] = ..., perceived_severity: _Optional[str] = ...) -> None: ...

class ConfigChange(_message.Message):
    __slots__ = ("datastore", "paths", "user", "source_host")
    DATASTORE_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HOST_FIELD_NUMBER: _ClassVar[int]
    datastore: str
    paths: _containers.RepeatedScalarFieldContainer[str]
    user: str
    source_host: str
    def __init__(self, datastore: _Optional[str] = ..., paths: _Optional[_Iterable[str]] = ..., user: _Optional[str] = ..., source_host: _Optional[str] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ("event_time", "service", "alarm", "config", "link", "dropped")
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ALARM_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    event_time: str
    service: ServiceStateChange
    alarm: AlarmEvent
    config: ConfigChange
    link: LinkStateChange
    dropped: int
    def __init__(self, event_time: _Optional[str] = ..., service: _Optional[_Union[ServiceStateChange, _Mapping]] = ..., alarm: _Optional[_Union[AlarmEvent, _Mapping]] = ..., config: _Optional[_Union[ConfigChange, _Mapping]] = ..., link: _Optional[_Union[LinkStateChange, _Mapping]] = ..., dropped: _Optional[int] = ...) -> None: ...

class DryRunRequest(_message.Message):
    __slots__ = ("action", "edit_json")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    EDIT_JSON_FIELD_NUMBER: _ClassVar[int]
    action: str
    edit_json: str
    def __init__(self, action: _Optional[str] = ..., edit_json: _Optional[str] = ...) -> None: ...

class OptimiseRequest(_message.Message):
    __slots__ = ("dry_run",)
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    def __init__(self, dry_run: _Optional[bool] = ...) -> None: ...

class ServiceFigures(_message.Message):
    __slots__ = ("rate", "fidelity", "utility")
    RATE_FIELD_NUMBER: _ClassVar[int]
    FIDELITY_FIELD_NUMBER: _ClassVar[int]
    UTILITY_FIELD_NUMBER: _ClassVar[int]
    rate: float
    fidelity: float
    utility: float
    def __init__(self, rate: _Optional[float] = ..., fidelity: _Optional[float] = ..., utility: _Optional[float] = ...) -> None: ...

class ServiceImpact(_message.Message):
    __slots__ = ("name", "change", "live_move", "old_path", "new_path", "switch_kind", "expected_interruption_s", "reason", "before", "after")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    LIVE_MOVE_FIELD_NUMBER: _ClassVar[int]
    OLD_PATH_FIELD_NUMBER: _ClassVar[int]
    NEW_PATH_FIELD_NUMBER: _ClassVar[int]
    SWITCH_KIND_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_INTERRUPTION_S_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    name: str
    change: str
    live_move: str
    old_path: _containers.RepeatedScalarFieldContainer[str]
    new_path: _containers.RepeatedScalarFieldContainer[str]
    switch_kind: str
    expected_interruption_s: float
    reason: str
    before: ServiceFigures
    after: ServiceFigures
    def __init__(self, name: _Optional[str] = ..., change: _Optional[str] = ..., live_move: _Optional[str] = ..., old_path: _Optional[_Iterable[str]] = ..., new_path: _Optional[_Iterable[str]] = ..., switch_kind: _Optional[str] = ..., expected_interruption_s: _Optional[float] = ..., reason: _Optional[str] = ..., before: _Optional[_Union[ServiceFigures, _Mapping]] = ..., after: _Optional[_Union[ServiceFigures, _Mapping]] = ...) -> None: ...

class ImpactTotals(_message.Message):
    __slots__ = ("added", "removed", "moved", "hard_switches", "retuned", "rejected", "devices", "utility_before", "utility_after")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    HARD_SWITCHES_FIELD_NUMBER: _ClassVar[int]
    RETUNED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    UTILITY_BEFORE_FIELD_NUMBER: _ClassVar[int]
    UTILITY_AFTER_FIELD_NUMBER: _ClassVar[int]
    added: int
    removed: int
    moved: int
    hard_switches: int
    retuned: int
    rejected: int
    devices: int
    utility_before: float
    utility_after: float
    def __init__(self, added: _Optional[int] = ..., removed: _Optional[int] = ..., moved: _Optional[int] = ..., hard_switches: _Optional[int] = ..., retuned: _Optional[int] = ..., rejected: _Optional[int] = ..., devices: _Optional[int] = ..., utility_before: _Optional[float] = ..., utility_after: _Optional[float] = ...) -> None: ...

class DryRunResponse(_message.Message):
    __slots__ = ("services", "devices", "totals")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[ServiceImpact]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceDiff]
    totals: ImpactTotals
    def __init__(self, services: _Optional[_Iterable[_Union[ServiceImpact, _Mapping]]] = ..., devices: _Optional[_Iterable[_Union[DeviceDiff, _Mapping]]] = ..., totals: _Optional[_Union[ImpactTotals, _Mapping]] = ...) -> None: ...

class OptimiseResponse(_message.Message):
    __slots__ = ("services", "devices", "totals")
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[ServiceImpact]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceDiff]
    totals: ImpactTotals
    def __init__(self, services: _Optional[_Iterable[_Union[ServiceImpact, _Mapping]]] = ..., devices: _Optional[_Iterable[_Union[DeviceDiff, _Mapping]]] = ..., totals: _Optional[_Union[ImpactTotals, _Mapping]] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("start", "end", "kinds", "resource")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    kinds: _containers.RepeatedScalarFieldContainer[str]
    resource: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ..., kinds: _Optional[_Iterable[str]] = ..., resource: _Optional[str] = ...) -> None: ...

class HistoryValue(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class HistorySample(_message.Message):
    __slots__ = ("time", "kind", "resource", "event", "values", "root_cause_resources")
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    ROOT_CAUSE_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    time: str
    kind: str
    resource: str
    event: str
    values: _containers.RepeatedCompositeFieldContainer[HistoryValue]
    root_cause_resources: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, time: _Optional[str] = ..., kind: _Optional[str] = ..., resource: _Optional[str] = ..., event: _Optional[str] = ..., values: _Optional[_Iterable[_Union[HistoryValue, _Mapping]]] = ..., root_cause_resources: _Optional[_Iterable[str]] = ...) -> None: ...

class GetHistoryResponse(_message.Message):
    __slots__ = ("window_start", "window_end", "samples")
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    window_start: str
    window_end: str
    samples: _containers.RepeatedCompositeFieldContainer[HistorySample]
    def __init__(self, window_start: _Optional[str] = ..., window_end: _Optional[str] = ..., samples: _Optional[_Iterable[_Union[HistorySample, _Mapping]]] = ...) -> None: ...

class GetSnapshotRequest(_message.Message):
    __slots__ = ("time",)
    TIME_FIELD_NUMBER: _ClassVar[int]
    time: str
    def __init__(self, time: _Optional[str] = ...) -> None: ...

class GetSnapshotResponse(_message.Message):
    __slots__ = ("window_start", "window_end", "time", "links", "services", "alarms", "nodes")
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    ALARMS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    window_start: str
    window_end: str
    time: str
    links: _containers.RepeatedCompositeFieldContainer[HistorySample]
    services: _containers.RepeatedCompositeFieldContainer[HistorySample]
    alarms: _containers.RepeatedCompositeFieldContainer[HistorySample]
    nodes: _containers.RepeatedCompositeFieldContainer[HistorySample]
    def __init__(self, window_start: _Optional[str] = ..., window_end: _Optional[str] = ..., time: _Optional[str] = ..., links: _Optional[_Iterable[_Union[HistorySample, _Mapping]]] = ..., services: _Optional[_Iterable[_Union[HistorySample, _Mapping]]] = ..., alarms: _Optional[_Iterable[_Union[HistorySample, _Mapping]]] = ..., nodes: _Optional[_Iterable[_Union[HistorySample, _Mapping]]] = ...) -> None: ...

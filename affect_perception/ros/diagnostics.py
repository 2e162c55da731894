"""The node's health (:mod:`affect_perception.serving.health`) as a
``diagnostic_msgs/DiagnosticArray``, and reading a value back from received arrays."""

from __future__ import annotations

from collections.abc import Iterable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from affect_perception.serving.health import Health, assess, health_values


def diagnostic_array(health: Health, name: str, stamp: object) -> DiagnosticArray:
    """One ``DiagnosticStatus`` named ``name`` (the node's full name) in an array."""
    level, message = assess(health)
    status = DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id=health.model_id,
        values=[KeyValue(key=k, value=v) for k, v in health_values(health)],
    )
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array


def latest_value(arrays: Iterable[DiagnosticArray], name: str, key: str) -> str | None:
    """The newest value of ``key`` in the statuses named ``name`` (arrays oldest first)."""
    for array in reversed(list(arrays)):
        for status in array.status:
            if status.name == name:
                return {kv.key: kv.value for kv in status.values}.get(key)
    return None

"""A row of the parameter table (:mod:`affect_perception.serving.settings`) as the
``rcl_interfaces/ParameterDescriptor`` that declares it."""

from __future__ import annotations

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from affect_perception.serving.settings import Param


def descriptor(param: Param) -> ParameterDescriptor:
    """The ``rcl_interfaces/ParameterDescriptor`` declaring ``param``."""
    text = param.description
    if param.choices:
        text += f" (one of: {', '.join(param.choices)})"
    if param.range is not None and (param.range.low_open or param.range.high_open):
        text += f" (range {param.range})"
    if not (param.dynamic or param.startup):
        text += " (static: changes only while the node is unconfigured)"
    desc = ParameterDescriptor(description=text, read_only=param.startup)
    if param.range is not None:
        is_int = isinstance(param.default, int) and not isinstance(param.default, bool)
        if is_int:
            desc.integer_range = [
                IntegerRange(
                    from_value=int(param.range.low), to_value=int(param.range.high), step=1
                )
            ]
        elif isinstance(param.default, float):
            desc.floating_point_range = [
                FloatingPointRange(
                    from_value=float(param.range.low), to_value=float(param.range.high)
                )
            ]
    if param.choices:
        desc.additional_constraints = f"one of: {', '.join(param.choices)}"
    return desc

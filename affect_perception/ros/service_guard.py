"""Parameter services that answer a malformed request with a refusal instead of raising.

rclpy turns each ``rcl_interfaces/Parameter`` of a SetParameters request into a Python value
inside the service callback; a ``ParameterValue`` with an unknown ``type`` (any participant on
the domain can send one) raises ``ValueError`` there, which escapes the executor and ends the
process. :func:`guard_parameter_services` wraps the set services' callbacks so that such a
parameter gets ``SetParametersResult(successful=False)`` with the reason, and the node goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rcl_interfaces.msg import SetParametersResult
from rcl_interfaces.srv import SetParameters, SetParametersAtomically
from rclpy.node import Node

from affect_perception.log_values import cut

# What a malformed parameter message makes rclpy (or a parameter callback) raise.
MALFORMED = (ValueError, TypeError, OverflowError)

Callback = Callable[[Any, Any], Any]


def refusal(err: Exception) -> SetParametersResult:
    """The answer to a parameter that could not be read or set."""
    return SetParametersResult(
        successful=False, reason=cut(f"refused: {type(err).__name__}: {err}")
    )


def _set_each(original: Callback, on_refused: Callable[[str], None]) -> Callback:
    """SetParameters: each parameter on its own, a malformed one refused."""

    def callback(request: Any, response: Any) -> Any:
        for parameter in request.parameters:
            try:
                one = original(
                    SetParameters.Request(parameters=[parameter]), SetParameters.Response()
                )
                response.results.extend(one.results)
            except MALFORMED as err:
                response.results.append(refusal(err))
                on_refused(f"set_parameters: {cut(parameter.name)}: {response.results[-1].reason}")
        return response

    return callback


def _set_atomically(original: Callback, on_refused: Callable[[str], None]) -> Callback:
    """SetParametersAtomically: the whole request refused when one parameter is malformed."""

    def callback(request: Any, response: Any) -> Any:
        try:
            return original(request, response)
        except MALFORMED as err:
            response.result = refusal(err)
            on_refused(f"set_parameters_atomically: {response.result.reason}")
            return response

    return callback


_GUARDS = {SetParameters: _set_each, SetParametersAtomically: _set_atomically}


def guard_parameter_services(node: Node, throttle_s: float) -> int:
    """Wrap ``node``'s set-parameter services; each refusal is logged as a warning (at most
    one every ``throttle_s`` seconds).

    Returns:
        how many services were wrapped (2 when the node has parameter services).
    """

    def on_refused(line: str) -> None:
        node.get_logger().warning(
            f"refused a malformed parameter request: {line}", throttle_duration_sec=throttle_s
        )

    wrapped = 0
    for service in node.services:
        guard = _GUARDS.get(service.srv_type)
        if guard is not None:
            service.callback = guard(service.callback, on_refused)
            wrapped += 1
    return wrapped

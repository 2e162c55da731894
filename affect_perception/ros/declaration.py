"""Declaring the node's parameters, and the overrides rclpy refused or rcl ignored."""

from __future__ import annotations

from rclpy.exceptions import ParameterException
from rclpy.node import Node

from affect_perception.ros.descriptors import descriptor
from affect_perception.serving.overrides import given_overrides, ignored_overrides, refused_reason
from affect_perception.serving.settings import PARAMETERS


def declare_parameters(node: Node, argv: list[str]) -> dict[str, str]:
    """Declare every row of the table; name -> why, for each override rclpy refused (that
    parameter is declared with its default instead) or rcl ignored (a ``-p`` in ``argv``
    whose value the parameter did not get)."""
    refused = {}
    for param in PARAMETERS:
        try:
            node.declare_parameter(param.name, param.default, descriptor(param))
        except ParameterException as err:
            text = str(err.args[0]) if err.args else str(err)
            refused[param.name] = refused_reason(text, param.name)
            node.declare_parameter(
                param.name, param.default, descriptor(param), ignore_override=True
            )
    effective = {
        p.name: node.get_parameter(p.name).value for p in PARAMETERS if p.name not in refused
    }
    return {**refused, **ignored_overrides(given_overrides(argv), effective)}

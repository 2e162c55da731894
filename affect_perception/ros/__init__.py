"""The ROS 2 node: rclpy wiring only (lifecycle, subscription, publishers, QoS, parameter
declaration, diagnostics messages, entry point) around :mod:`affect_perception.serving`."""

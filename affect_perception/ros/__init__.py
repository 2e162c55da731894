"""The ROS 2 node: parameters, message conversions, the frame worker and diagnostics."""

"""ROS-free live operation: the latest-frame worker, statistics and health, the settings table
and the reconfiguration policy the node wires to rclpy."""

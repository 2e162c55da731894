"""Drawing what the pipeline saw onto RGB frames (no ROS)."""

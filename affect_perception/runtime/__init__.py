"""ROS-free runtime: image decoding, face detection, alignment, tracking and inference."""

"""pip install support; metadata lives in setup.cfg. ROS users build with colcon (CMake)."""

from setuptools import setup

setup()

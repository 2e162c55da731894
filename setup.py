"""pip install support; metadata lives in setup.cfg. ROS users build with colcon (CMakeLists.txt)."""
from setuptools import setup

setup()

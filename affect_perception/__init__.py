"""affect_perception: live per-face affect perception for ROS 2.

The generated message package (``affect_perception.msg``) and these sources may live in
different directories (a pip editable install next to a colcon install), so the package
path spans every ``affect_perception`` directory on ``sys.path``.

Importing the package tells OpenCV the pixel limit before any module imports cv2 (the second
wall behind the header checks of :mod:`affect_perception.runtime.pixel_limit`).
"""

__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from affect_perception.runtime.pixel_limit import limit_opencv  # noqa: E402

limit_opencv()

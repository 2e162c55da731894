"""Start affect_perception_node on a camera topic with the parameters of config/affect.yaml.

    ros2 launch affect_perception affect.launch.py image:=/camera/color/image_raw
    ros2 launch affect_perception affect.launch.py image:=/camera/color/image_raw compressed:=true

With ``compressed:=true`` the node subscribes to ``<image>/compressed`` (image_transport's
name). The node is a managed (lifecycle) node; with ``auto_activate:=true`` (the default) it
configures and activates itself, with ``false`` it waits unconfigured for a lifecycle manager
or ``ros2 lifecycle set``. Other parameters: edit a copy of config/affect.yaml and pass
``params_file:=<copy>``.
"""

# ruff takes `launch` for this repository's launch/ folder and would split the block
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = "affect_perception"
EXECUTABLE = "affect_perception_node"
# The default parameter file, relative to the package's share folder.
PARAMS_FILE = ("config", "affect.yaml")
# (name, default, description) of every launch argument; params_file's default is set below.
ARGUMENTS = (
    ("image", "/camera/image_raw", "camera image topic (sensor_msgs/Image); with "
     "compressed:=true the node subscribes to <image>/compressed"),
    ("compressed", "false", "subscribe to <image>/compressed (sensor_msgs/CompressedImage) "
     "instead of <image>"),
    ("params_file", "", "parameter file (default: config/affect.yaml of the installed package)"),
    ("namespace", "", "namespace of the node and its ~/ topics"),
    ("log_level", "info", "log level: debug, info, warn, error or fatal"),
    ("auto_activate", "true", "configure and activate the managed node at start-up (false: it "
     "waits unconfigured for lifecycle transitions)"),
)


def generate_launch_description() -> LaunchDescription:
    """The node with its remappings, parameter file and log level."""
    defaults = {"params_file": PathJoinSubstitution([FindPackageShare(PACKAGE), *PARAMS_FILE])}
    arguments = [DeclareLaunchArgument(name, default_value=defaults.get(name, default),
                                       description=description)
                 for name, default, description in ARGUMENTS]
    image = LaunchConfiguration("image")
    node = Node(
        package=PACKAGE,
        executable=EXECUTABLE,
        name=EXECUTABLE,
        namespace=LaunchConfiguration("namespace"),
        parameters=[LaunchConfiguration("params_file"),
                    {"use_compressed": LaunchConfiguration("compressed"),
                     "autostart": LaunchConfiguration("auto_activate")}],
        remappings=[("image", image), ("image/compressed", [image, "/compressed"])],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        output="screen",
    )
    return LaunchDescription([*arguments, node])

"""Start affect_perception_node on a camera topic with the parameters of config/affect.yaml.

    ros2 launch affect_perception affect.launch.py image:=/camera/color/image_raw
    ros2 launch affect_perception affect.launch.py image:=/camera/color/image_raw compressed:=true

With ``compressed:=true`` the node subscribes to ``<image>/compressed`` (image_transport's
name). The node is a managed (lifecycle) node; with ``auto_activate:=true`` (the default) it
configures and activates itself, with ``false`` it waits unconfigured for a lifecycle manager
or ``ros2 lifecycle set``. ``model_dir:=<folder>`` runs a model made by ``affect-perception
export`` (default: the bundled demo model). Other parameters: edit a copy of
config/affect.yaml and pass ``params_file:=<copy>``; the arguments above override its values.

What it launches gets the Fast DDS profile for large images (config/fastdds_large_images.xml)
in FASTRTPS_DEFAULT_PROFILES_FILE; ``large_images_profile:=false`` leaves the environment as
it is. The camera driver needs the same profile in its own environment (docs/NODE.md).
"""

# ruff takes `launch` for this repository's launch/ folder and would split the block
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = "affect_perception"
EXECUTABLE = "affect_perception_node"
# The default parameter file and the Fast DDS profile, relative to the package's share folder.
PARAMS_FILE = ("config", "affect.yaml")
DDS_PROFILE = ("config", "fastdds_large_images.xml")
# The variable Fast DDS (2.x and 3.x) reads its XML profile from.
DDS_PROFILE_VARIABLE = "FASTRTPS_DEFAULT_PROFILES_FILE"
# (name, default, description) of every launch argument; params_file's default is set below.
ARGUMENTS = (
    (
        "image",
        "/camera/image_raw",
        "camera image topic (sensor_msgs/Image); with "
        "compressed:=true the node subscribes to <image>/compressed",
    ),
    (
        "compressed",
        "false",
        "subscribe to <image>/compressed (sensor_msgs/CompressedImage) instead of <image>",
    ),
    ("params_file", "", "parameter file (default: config/affect.yaml of the installed package)"),
    (
        "model_dir",
        "",
        "model folder made by `affect-perception export` (empty: the bundled demo model)",
    ),
    ("namespace", "", "namespace of the node and its ~/ topics"),
    ("log_level", "info", "log level: debug, info, warn, error or fatal"),
    (
        "auto_activate",
        "true",
        "configure and activate the managed node at start-up (false: it "
        "waits unconfigured for lifecycle transitions)",
    ),
    (
        "large_images_profile",
        "true",
        "set FASTRTPS_DEFAULT_PROFILES_FILE to the shipped Fast "
        "DDS profile for large images for what this file launches (false: leave it as it is)",
    ),
)


def generate_launch_description() -> LaunchDescription:
    """The node with its remappings, parameter file, log level and Fast DDS profile."""
    share = FindPackageShare(PACKAGE)
    defaults = {"params_file": PathJoinSubstitution([share, *PARAMS_FILE])}
    arguments = [
        DeclareLaunchArgument(
            name, default_value=defaults.get(name, default), description=description
        )
        for name, default, description in ARGUMENTS
    ]
    image = LaunchConfiguration("image")
    profile = SetEnvironmentVariable(
        DDS_PROFILE_VARIABLE,
        PathJoinSubstitution([share, *DDS_PROFILE]),
        condition=IfCondition(LaunchConfiguration("large_images_profile")),
    )
    node = Node(
        package=PACKAGE,
        executable=EXECUTABLE,
        name=EXECUTABLE,
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "model_dir": LaunchConfiguration("model_dir"),
                "use_compressed": LaunchConfiguration("compressed"),
                "autostart": LaunchConfiguration("auto_activate"),
            },
        ],
        remappings=[("image", image), ("image/compressed", [image, "/compressed"])],
        arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        output="screen",
    )
    return LaunchDescription([*arguments, profile, node])

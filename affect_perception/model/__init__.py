"""The affect model (MobileNetV4 backbone + temporal MLP-Mixer), checkpoints and ONNX export."""

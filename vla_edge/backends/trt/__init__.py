"""TensorRT backend: EngineFromOnnx (loader.py), TensorRTRunner (runner.py), sidecar and engine
inspection, and the TensorRT 10.3 target checks. Importing this package never imports tensorrt."""

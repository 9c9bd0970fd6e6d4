"""Compression: quantize (fp16, int8 static Q/DQ, int8 dynamic, mixed), prune, distill."""

"""Datasets read without their authors' libraries (vla_edge.data.lerobot_dataset)."""

"""Autoregressive VLA family (RT-2 / OpenVLA style): a decoder LLM that emits action tokens.

Import the torch modules from their own modules (`modeling`, `presets`); this package's
`tokens` and `decode` modules are numpy only, for the runtime.
"""

AR_HEADS = ("ar", "ar-parallel")

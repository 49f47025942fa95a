"""Device targets: run the runtime under another instruction set (emulated aarch64) or on
TensorFlow Lite Micro, because a gate verdict holds only for the machine it ran on.

``aarch64`` prepares and drives a cached, emulated Debian arm64 root (qemu-user + binfmt_misc);
``runner`` is the small program that runs inside it (numpy + one interpreter, no TensorFlow).
"""

#: Target names as they appear in report.json ``targets``: one per emulated CPU model.
TARGET_PREFIX = "aarch64-"

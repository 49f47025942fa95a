"""Import TensorFlow and Keras once, without their native start-up banners on stderr.

Imported by the CLI before any command that needs TensorFlow, and preloaded by the converters'
fork server, so later ``import tensorflow`` / ``import keras`` statements are silent no-ops.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from runtime.quiet import quiet_native_stderr

with quiet_native_stderr():
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

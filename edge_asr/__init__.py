"""edge-asr: Keras speech models to edge devices, with proof that nothing broke on the way.

Keras-side package (builders, data, training, evaluation, validation). Importing it is cheap:
TensorFlow loads only when a model is built or trained.
"""

__version__ = "0.1.0"

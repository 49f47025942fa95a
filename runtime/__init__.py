"""On-device half of edge-asr: numpy plus one interpreter (LiteRT or onnxruntime).

Never imports TensorFlow, Keras, ``edge_asr`` or ``converters``; a device installs only the
``runtime`` extra. Heavy names are resolved lazily so ``import runtime`` stays cheap.
"""

from runtime.errors import EdgeASRError

__all__ = ["EdgeASRError", "Recognizer", "StreamingRecognizer"]


def __getattr__(name: str):
    if name in ("Recognizer", "StreamingRecognizer"):
        from runtime import recognizer

        return getattr(recognizer, name)
    raise AttributeError(name)

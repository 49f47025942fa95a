"""On-device half of edge-asr: numpy plus one interpreter (LiteRT or onnxruntime).

Never imports TensorFlow, Keras, ``edge_asr`` or ``converters``; a device installs only the
``runtime`` extra. Heavy names are resolved lazily so ``import runtime`` stays cheap.
"""

from runtime.errors import EdgeASRError

_LAZY = {
    "DecoderOptions": "runtime.recognizer",
    "Recognizer": "runtime.recognizer",
    "Result": "runtime.recognizer",
    "Stream": "runtime.recognizer",
    "StreamingRecognizer": "runtime.recognizer",
    "EndpointConfig": "runtime.endpoint",
}

__all__ = ["EdgeASRError", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)

"""Keras -> TFLite / ONNX artifacts behind an output-match gate, packed into a bundle.

Modules: ``keras_twin`` (export twins that trace correctly), ``streaming`` (stream spec and the
chunk model), ``tflite_export``, ``onnx_export``/``onnx_quant`` (native recurrent ONNX ops),
``parity`` + ``tolerances`` (the gate), ``bundle`` (bundle.json writer), ``convert``
(orchestration, one child process per variant) and ``cli`` (``edge-asr convert``).
"""

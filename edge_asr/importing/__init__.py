"""``edge-asr import``: a model trained elsewhere becomes a normal model directory.

Sources: a Keras 2 / tf.keras HDF5 model (``model.save('x.h5')``), HDF5 weights only
(``model.save_weights('x.h5')``, rebuilt with one of this project's builders), a Keras 3
``.keras`` file, or a tf.keras SavedModel directory. Each is read without tf_keras (h5py, the
SavedModel's own metadata and variables), every layer is rebuilt as a Keras 3 layer from the
settings that matter at inference only, and the weights are assigned layer by layer with shape
checks. Modules:

- ``sources``: what a file is, its model config and weights.
- ``legacy``: Keras 2 layer configs -> Keras 3 layers (the Keras 2 differences, in one place).
- ``weights``: layer-by-layer assignment with shape checks; builder pairing.
- ``analysis``: supported layers, softmax output, the ``output_length`` rule derived from the
  Conv1D/pooling layers and checked against the model's real output lengths.
- ``normalization``: feature statistics fitted on a manifest, read from a file, or none.
- ``labels``: the label map (the seed's 29 symbols by default).
- ``importer``: the whole job, written to a temporary folder and renamed into place.

Importing this package is light; TensorFlow loads when an import runs.
"""

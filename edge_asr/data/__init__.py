"""Training data: manifests, audio loading, LibriSpeech import and the built-in espeak corpus.

Only the light manifest API is imported here; ``corpus``, ``espeak`` and ``sentences`` load
on use.
"""

from edge_asr.data.manifest import ManifestError, Utterance, load_manifest, write_manifest

__all__ = ["ManifestError", "Utterance", "load_manifest", "write_manifest"]

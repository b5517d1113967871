"""Real PACS peers (Orthanc, DCMTK, pynetdicom qrscp) run on loopback as pytest fixtures.

The servers here are the ground truth the network checks are tested against:
see ``GROUND_TRUTH.md`` in this folder for how each configuration answers.
"""

"""dicomaudit: DICOM/PACS exposure assessment for the nodes you are responsible for."""

__version__ = "0.1.0"

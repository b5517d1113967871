"""PHI analyzer: find identifying data wherever it hides in a DICOM header.

Public API::

    from dicomaudit.phi import analyze_dataset, analyze_paths, AnalysisResult, mask_value, summarize

    findings = analyze_dataset(ds, source="127.0.0.1:4242 C-FIND STUDY", show_values=False)
    result = analyze_paths(["scans/", "DICOMDIR"], workers=None, progress=None)
    result.findings, result.errors, result.files_scanned, result.summary()

Rules, categories and severities are described in :mod:`dicomaudit.phi.analyzer`
and :mod:`dicomaudit.phi.categories`; the confidentiality profile comes from
PS3.15 Annex E Table E.1-1 via ``dicomanonymizer`` (:mod:`dicomaudit.phi.profile`).
"""

from dicomaudit.phi.analyzer import MAX_DEPTH, PhiAnalysisError, analyze_dataset
from dicomaudit.phi.categories import CATEGORY_SEVERITY, KIND_SEVERITY, Category, Kind
from dicomaudit.phi.locale import normalize_regions
from dicomaudit.phi.masking import mask_value
from dicomaudit.phi.roles import RoleSet, RolesFileError, load_roles, resolve_roles
from dicomaudit.phi.runner import (
    AnalysisInterrupted,
    AnalysisResult,
    analyze_file,
    analyze_paths,
    summarize,
    summarize_severity,
)

__all__ = [
    "RoleSet",
    "RolesFileError",
    "load_roles",
    "normalize_regions",
    "resolve_roles",
    "CATEGORY_SEVERITY",
    "KIND_SEVERITY",
    "MAX_DEPTH",
    "AnalysisInterrupted",
    "AnalysisResult",
    "Category",
    "Kind",
    "PhiAnalysisError",
    "analyze_dataset",
    "analyze_file",
    "analyze_paths",
    "mask_value",
    "summarize",
    "summarize_severity",
]

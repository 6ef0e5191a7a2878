"""Custom Kedro datasets: every artifact is written to a temporary path and renamed when complete."""

from slmops.datasets.documents import (
    BinaryFolderDataset,
    JSONDocumentDataset,
    JSONFolderDataset,
    OptionalYAMLDataset,
    TextFileDataset,
)
from slmops.datasets.folders import StagedFolderDataset, WorkFolderDataset
from slmops.datasets.git_revision import GitRevisionDataset
from slmops.datasets.hf_model import HFModelDataset, PeftAdapterDataset
from slmops.datasets.jsonl import JSONLinesDataset
from slmops.datasets.jsonl_stream import StreamedJSONLinesDataset
from slmops.datasets.lineage_chain import LineageChainDataset
from slmops.datasets.paths import FilePathDataset
from slmops.datasets.raw_records import RawRecordsDataset

__all__ = [
    "BinaryFolderDataset",
    "FilePathDataset",
    "GitRevisionDataset",
    "TextFileDataset",
    "HFModelDataset",
    "JSONDocumentDataset",
    "JSONFolderDataset",
    "JSONLinesDataset",
    "LineageChainDataset",
    "OptionalYAMLDataset",
    "PeftAdapterDataset",
    "RawRecordsDataset",
    "StagedFolderDataset",
    "StreamedJSONLinesDataset",
    "WorkFolderDataset",
]

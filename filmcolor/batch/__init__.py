"""Whole folders, resumably: ``run_local`` on this machine, ``ray_runner.run_ray`` on a Ray cluster.

plan.py decides what to colour, worker.py colours one file, runner.py holds the local executor and the
driver, manifest.py the resumable state.
"""

from filmcolor.batch.manifest import MANIFEST_NAME, FileRecord, Manifest, read_manifest
from filmcolor.batch.runner import BatchOptions, BatchResult, BatchRunner, run_local

__all__ = ["MANIFEST_NAME", "BatchOptions", "BatchResult", "BatchRunner", "FileRecord", "Manifest",
           "read_manifest", "run_local"]

"""Partitions: one dynamic partition per ingested file and kind; static shards for backfills."""

from __future__ import annotations

from dagster import DynamicPartitionsDefinition, StaticPartitionsDefinition

from registry.ingest.formats import KINDS as FORMATS

KINDS = tuple(FORMATS)
FILE_PARTITIONS = {kind: DynamicPartitionsDefinition(name=f"{kind}_files") for kind in KINDS}
SHARD_COUNT = 16
SHARDS = StaticPartitionsDefinition([f"{i:02d}" for i in range(SHARD_COUNT)])

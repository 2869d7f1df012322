"""Writing one batch of normalised records inside the caller's transaction: compounds (new ones
by COPY, names and external ids merged into existing ones), provenance, and measurements
(rows from registry/ingest/measurement_rows.py, deduplicated by content hash; a newer version
supersedes the older). Each function returns what it changed. Rejects are kept by
registry/ingest/rejects.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from registry.chem.identity import Identity
from registry.db.bulk import copy_insert
from registry.db.schema import Compound, Source
from registry.ingest.measurement_rows import copy_types
from registry.records import Record

MAX_NAMES = 20


@dataclass
class CompoundWrite:
    """Compound ids by InChIKey after a batch, which of them are new, and rows changed."""

    ids: dict[str, int]
    new: set[str]
    changes: int


def _gather(items: list[tuple[Record, Identity]]) -> dict[str, tuple[Identity, set, dict]]:
    """Per InChIKey: the identity, every name and the first value of each external id."""
    by_key: dict[str, tuple[Identity, set[str], dict[str, str]]] = {}
    for record, identity in items:
        _, names, ext = by_key.setdefault(identity.inchikey, (identity, set(), {}))
        names.update(n for n in record.structure.names if n)
        for k, v in record.structure.external_ids.items():
            ext.setdefault(k, v)
    return by_key


def _merge_existing(session: Session, existing: dict, by_key: dict) -> int:
    """Add new names and external ids to compounds already in the registry."""
    merges = []
    for key, row in existing.items():
        _, names, ext = by_key[key]
        merged_names = list(row.names) + sorted(set(names) - set(row.names))
        merged_names = merged_names[: max(MAX_NAMES, len(row.names))]
        merged_ext = {**ext, **row.external_ids}
        if merged_names != list(row.names) or merged_ext != row.external_ids:
            merges.append({"cid": row.id, "names": merged_names, "external_ids": merged_ext})
    if merges:  # one statement for the batch, not one per compound
        session.execute(
            text(
                "UPDATE compound c SET names = m.names, external_ids = m.external_ids "
                "FROM jsonb_to_recordset(CAST(:merges AS jsonb)) "
                "AS m(cid bigint, names text[], external_ids jsonb) WHERE c.id = m.cid"
            ),
            {"merges": json.dumps(merges)},
        )
    return len(merges)


def ensure_source(
    session: Session, name: str, licence: str | None, origin: str | None
) -> tuple[int, bool]:
    """The source's id, and whether this call created it."""
    table = Source.__table__
    created = session.execute(
        pg_insert(table)
        .values(name=name, licence=licence, origin=origin)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(table.c.id)
    ).scalar()
    if created is not None:
        return created, True
    return session.execute(select(table.c.id).where(table.c.name == name)).scalar_one(), False


def link_sources(session: Session, compound_ids: list[int], source_id: int) -> int:
    """Record that these compounds came (also) from this source; how many links are new. One
    statement over an array, not a row of parameters per compound."""
    if not compound_ids:
        return 0
    return len(
        session.execute(
            text(
                "INSERT INTO compound_source (compound_id, source_id) "
                "SELECT unnest(CAST(:ids AS bigint[])), :source ON CONFLICT DO NOTHING "
                "RETURNING compound_id"
            ),
            {"ids": compound_ids, "source": source_id},
        ).all()
    )


def upsert_compounds(
    session: Session,
    items: list[tuple[Record, Identity]],
    source_id: int,
    fingerprints: dict[str, str] | None = None,
) -> CompoundWrite:
    """Insert new compounds (with their fingerprint bits by InChIKey, where given), merge
    names/ids into existing ones, link all to the source."""
    by_key = _gather(items)
    if not by_key:
        return CompoundWrite({}, set(), 0)
    table = Compound.__table__
    existing = {
        row.inchikey: row
        for row in session.execute(
            select(table.c.id, table.c.inchikey, table.c.names, table.c.external_ids).where(
                table.c.inchikey.in_(list(by_key))
            )
        )
    }
    result = CompoundWrite({key: row.id for key, row in existing.items()}, set(), 0)
    new_rows = [
        {
            "inchikey": i.inchikey,
            "inchi": i.inchi,
            "smiles": i.smiles,
            "formula": i.formula,
            "monoisotopic_mass": i.monoisotopic_mass,
            "names": sorted(names)[:MAX_NAMES],
            "external_ids": ext,
            "fingerprint": (fingerprints or {}).get(key),
        }
        for key, (i, names, ext) in by_key.items()
        if key not in existing
    ]
    if new_rows:
        for cid, key in copy_insert(session, table, new_rows, ["inchikey"], ["id", "inchikey"]):
            result.ids[key] = cid
            result.new.add(key)
    result.changes = len(result.new) + _merge_existing(session, existing, by_key)
    result.changes += link_sources(session, list(result.ids.values()), source_id)
    return result


def compound_ids(session: Session, inchikeys: list[str]) -> dict[str, int]:
    """Ids of the registry compounds among these InChIKeys."""
    if not inchikeys:
        return {}
    return dict(
        session.execute(
            select(Compound.inchikey, Compound.id).where(Compound.inchikey.in_(inchikeys))
        ).all()
    )


def compound_masses(session: Session, inchikeys: list[str]) -> dict[str, float]:
    """Monoisotopic masses of the registry compounds among these InChIKeys."""
    if not inchikeys:
        return {}
    return dict(
        session.execute(
            select(Compound.inchikey, Compound.monoisotopic_mass).where(
                Compound.inchikey.in_(inchikeys)
            )
        ).all()
    )


def insert_measurements(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert measurement rows (from measurement_row) whose content hash is new; the ids of
    those inserted."""
    if not rows:
        return []
    types = copy_types(table.name)
    inserted = copy_insert(session, table, rows, ["content_hash"], ["id"], types)
    return [row[0] for row in inserted]


# A record is a new version of an earlier one from the same source when both carry the same
# accession: MassBank/GNPS spectrum ids for MS/MS, the file name for IR. CCS rows have no
# stable accession and are never superseded.
_SAME_RECORD = {
    "msms_spectrum": "new.metadata ? 'spectrum_id'",
    "ir_spectrum": "TRUE",
}


def supersede(session: Session, table: Table, new_ids: list[int]) -> int:
    """Mark current rows that these new rows replace (same source, same accession, other
    content) as superseded, and drop their embeddings; returns how many were superseded."""
    if not new_ids or table.name not in _SAME_RECORD:
        return 0
    old = (
        session.execute(
            text(f"""
            UPDATE {table.name} old SET superseded_by = new.id
            FROM {table.name} new
            WHERE new.id = ANY(:ids) AND {_SAME_RECORD[table.name]}
              AND old.source_id = new.source_id AND old.record_id = new.record_id
              AND old.id < new.id AND old.superseded_by IS NULL
            RETURNING old.id"""),
            {"ids": new_ids},
        )
        .scalars()
        .all()
    )
    if old:
        session.execute(
            text(
                "DELETE FROM measurement_embedding WHERE modality = :m AND measurement_id = ANY(:ids)"
            ),
            {"m": "msms" if table.name == "msms_spectrum" else "ir", "ids": list(old)},
        )
    return len(old)

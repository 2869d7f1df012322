"""Model versions in the registry: register, list, activate (the checkpoint files live on disk)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from registry.db.schema import Model


class UnknownModelError(LookupError):
    """No model of that name, or no active model."""


@dataclass(frozen=True)
class ModelInfo:
    id: int
    name: str
    version: str
    path: str
    metrics: dict[str, Any]
    is_active: bool
    calibration: dict[str, Any] | None = None  # models/calibration.py, fitted by the evaluation
    ranker: dict[str, Any] | None = None  # models/ranker.py, fitted on validation windows


def _info(row: Model) -> ModelInfo:
    return ModelInfo(
        row.id,
        row.name,
        row.version,
        row.path,
        row.metrics or {},
        row.is_active,
        row.calibration,
        row.ranker,
    )


def register_model(
    session: Session,
    name: str,
    version: str,
    path: str,
    config: dict[str, Any],
    metrics: dict[str, Any],
    activate: bool,
) -> ModelInfo:
    """Insert or update the model called `name`; optionally make it the active one."""
    table = Model.__table__
    session.execute(
        pg_insert(table)
        .values(name=name, version=version, path=path, config=config, metrics=metrics)
        .on_conflict_do_update(
            index_elements=["name"],
            set_={"version": version, "path": path, "config": config, "metrics": metrics},
        )
    )
    if activate:
        activate_model(session, name)
    return get_model(session, name)


def update_metrics(session: Session, name: str, metrics: dict[str, Any]) -> None:
    session.execute(update(Model).where(Model.name == name).values(metrics=metrics))


def set_calibration(session: Session, name: str, calibration: dict[str, Any] | None) -> None:
    """Store (or clear) the model's fitted hit-probability calibration."""
    session.execute(update(Model).where(Model.name == name).values(calibration=calibration))


def set_ranker(session: Session, name: str, ranker: dict[str, Any] | None) -> None:
    """Store (or clear) the model's learned ranker (models/ranker.py, as JSON)."""
    session.execute(update(Model).where(Model.name == name).values(ranker=ranker))


def list_models(session: Session) -> list[ModelInfo]:
    return [_info(m) for m in session.scalars(select(Model).order_by(Model.created_at))]


def get_model(session: Session, name: str | None = None) -> ModelInfo:
    """The model called `name`, or the active model when name is None."""
    query = (
        select(Model).where(Model.name == name) if name else select(Model).where(Model.is_active)
    )
    row = session.scalars(query).first()
    if row is None:
        known = ", ".join(m.name for m in list_models(session)) or "none"
        raise UnknownModelError(
            f"no model named {name!r} (known: {known})" if name else "no active model"
        )
    return _info(row)


def activate_model(session: Session, name: str) -> None:
    get_model(session, name)
    session.execute(update(Model).where(Model.is_active).values(is_active=False))
    session.flush()
    session.execute(update(Model).where(Model.name == name).values(is_active=True))

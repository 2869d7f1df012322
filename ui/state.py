"""What the pages share for a browser session: the read-only engine, sessions, the model."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.orm import Session

from molvis.workflows.model_loading import LoadedModel, load_model
from registry.db.connection import get_reader_engine


@st.cache_resource
def engine():
    return get_reader_engine()


def session() -> Session:
    return Session(engine())


@st.cache_resource
def active_model() -> LoadedModel:
    return load_model(engine(), read_only=True)

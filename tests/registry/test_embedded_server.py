"""The embedded server is sized for the machine when it is created."""

import os

import pytest
from sqlalchemy import text

from registry.db.embedded import memory_settings


def test_memory_settings_follow_the_machine():
    gib = 2**30
    assert memory_settings(24 * gib) == {
        "shared_buffers": "4096MB",
        "effective_cache_size": "12288MB",
    }
    assert memory_settings(6 * gib)["shared_buffers"] == "1024MB"
    assert memory_settings(512 * 2**20)["shared_buffers"] == "128MB"  # never below initdb's


def test_a_new_embedded_server_has_the_machine_sizes(migrated_engine):
    if os.environ.get("MOLVIS_DATABASE_URL"):
        pytest.skip("an external server keeps its own settings")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    expected = memory_settings(ram)
    with migrated_engine.connect() as conn:
        for name, value in expected.items():
            setting, unit = conn.execute(
                text("SELECT setting::bigint, unit FROM pg_settings WHERE name = :n"), {"n": name}
            ).one()
            assert unit == "8kB"
            assert setting * 8 // 1024 == int(value.removesuffix("MB")), name

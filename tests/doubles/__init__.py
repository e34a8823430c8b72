"""Test doubles of host pieces, written from the facts in shared/FORGE_FACTS.md."""

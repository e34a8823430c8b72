"""Forge imports this before parsing the command line: add Forge Couple's flag."""

from __future__ import annotations

import argparse


def preload(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--forge-couple-config",
        type=str,
        default=None,
        help="YAML file with the defaults of the Forge Couple controls (see lib_couple/defaults.yaml)",
    )

"""What this tool adds to a model card: explanations, robustness, drift and privacy results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._card_blocks import Block, Section
from ._card_generic import auto_blocks
from ._card_sections import g, not_run, verdict_block

TITLES = {"explanations": "Explanations", "robustness": "Robustness", "drift": "Drift", "privacy": "Privacy"}


def extra_section(name: str, r: Mapping[str, Any]) -> Section:
    sec = g(r, name)
    if sec is None:
        return Section(name, TITLES[name], not_run(name, r))
    blocks: list[Block] = [verdict_block(sec), *auto_blocks(sec)]
    return Section(name, TITLES[name], tuple(blocks))

"""On a cluster, a section whose work runs on the workers does not hold a local section slot."""

from __future__ import annotations

import pytest

from audit.config import AuditConfig
from audit.engine.local import run_sections as _run_sections
from audit.sections import registry
from audit.sections.registry import SectionSpec
from tests.plugins import toy_section
from tests.plugins.toy_section import ToyOptions

WAITER = SectionSpec("waiter", "Waits", "tests.plugins.toy_section", "audit_waiter", "ToyOptions", "ToyReport",
                     priority=0, on_cluster=True)
SIGNALLER = SectionSpec("signaller", "Signals", "tests.plugins.toy_section", "audit_signaller", "ToyOptions",
                        "ToyReport", priority=1)


@pytest.mark.parametrize("on_cluster", [True, False])
def test_a_cluster_section_starts_first_beside_the_local_slots(on_cluster):
    toy_section.SIGNAL.clear()
    started = []
    with registry.use(registry.BUILTIN.with_section(WAITER).with_section(SIGNALLER)):
        out = _run_sections(None, ["signaller", "waiter"], AuditConfig(target="y"), {"waiter": ToyOptions(), "signaller": ToyOptions()},
                            lambda name, f, m: started.append(name) if m == "started" else None, 1,
                            current=None, reference=None, rows=object() if on_cluster else None)
    # Both ways the waiter starts first (its priority); only with a cluster does the one local slot
    # stay free for the signaller, so the waiter sees the signal instead of timing out.
    assert started == ["waiter", "signaller"]
    assert out["waiter"][0].performance_seen is on_cluster

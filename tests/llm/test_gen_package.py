"""Package hygiene of ``ani.llm``: light imports, extras named in errors, a compatible scenario schema."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from ani.llm.providers import LLMUnavailableError, require
from ani.kg.scenario import Event, EventType, Provenance, Scenario
from ani.llm.text import phrase

HEAVY = ("langchain", "llama_cpp", "openai", "ollama", "httpx")


def test_importing_the_generators_and_the_cli_loads_no_llm_library() -> None:
    probe = ("import sys, json; import ani.llm, ani.llm.base, ani.llm.registry, ani.llm.generators, ani.llm.composer, "
             "ani.llm.llm_generator, ani.llm.metrics, ani.llm.providers, ani.orchestrator.cli; "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in %r)))" % (HEAVY,))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == []


def test_a_missing_library_names_the_extra() -> None:
    with pytest.raises(LLMUnavailableError, match=r"needs the 'llm-local' extra: pip install 'ani-twin\[llm-local\]'"):
        require("ani_no_such_module", "llm-local", "in-process llama.cpp")


def test_provenance_is_optional_and_outside_the_digest() -> None:
    events = [Event(event_type=EventType.router_failure, target="Denver", timestamp=1.0)]
    plain = Scenario(events=events)
    stamped = plain.model_copy(update={"provenance": Provenance(generator="llm", model="ollama:x",
                                                                graph_digest="abc", seed=3)})
    assert plain.digest() == stamped.digest()
    old = json.loads(plain.model_dump_json(exclude={"provenance"}))
    assert Scenario.model_validate(old).provenance is None
    again = Scenario.model_validate_json(stamped.model_dump_json())
    assert again.provenance == stamped.provenance
    with pytest.raises(ValidationError):
        Provenance(generator="x", graph_digest="d", surprise=1)


def test_an_explicit_magnitude_is_checked_per_event_type_and_unset_keeps_old_digests() -> None:
    cut = [Event(event_type=EventType.fiber_link_failure, target="A-B", timestamp=1.0)]
    # the digest of a scenario without magnitudes is what it was before the field existed
    legacy = hashlib.sha256(json.dumps([{"event_type": "fiber_link_failure", "target": "A-B", "timestamp": 1.0,
                                         "severity": "high", "duration_s": None}], sort_keys=True).encode())
    assert Scenario(events=cut).digest() == legacy.hexdigest()[:16]
    gray = Event(event_type=EventType.link_degradation, target="A-B", timestamp=1.0, magnitude=0.12)
    assert Scenario(events=[gray]).digest() != Scenario(events=[gray.model_copy(update={"magnitude": None})]).digest()
    assert "magnitude 0.12" in phrase(gray)
    for bad, needle in [({"event_type": "link_degradation", "magnitude": 1.5}, "packet loss probability"),
                        ({"event_type": "router_overload", "magnitude": 0.0}, "greater than 0"),
                        ({"event_type": "traffic_spike", "magnitude": float("nan")}, "finite"),
                        ({"event_type": "router_failure", "magnitude": 0.5}, "takes no magnitude")]:
        with pytest.raises(ValidationError, match=needle):
            Event(target="A-B", timestamp=1.0, **bad)

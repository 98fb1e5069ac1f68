"""A template program split into headers: inlined once each, with #line marks, hashed into run ids."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ani.kg.errors import SimulationError
from ani.ns3_scenarios.build import build_program, compiler_available
from ani.ns3_scenarios.program_source import QUOTED_INCLUDE, inline_source, local_headers
from ani.ns3_scenarios.templates import get_template, load_template

BUNDLED = get_template("ospf_failure")


def test_every_header_of_the_bundled_program_is_inlined_once() -> None:
    headers = sorted(p.name for p in BUNDLED.folder.glob("*.h"))
    assert len(headers) >= 5, "the program is split into headers"
    assert sorted(p.name for p in local_headers(BUNDLED.program_path)) == headers
    assert {p.name for p in BUNDLED.files} >= {"manifest.toml", "scenario.cc", *headers}
    source = BUNDLED.source()
    for name in headers:
        assert source.count(f'#line 1 "{name}"') == 1
        assert f'#include "{name}"' not in source
    assert "#pragma once" not in source
    kept = [m[1] for line in source.splitlines() if (m := QUOTED_INCLUDE.match(line))]
    assert kept and all(k.startswith("ns3/") for k in kept), "the compiler resolves ns-3's own headers"


def test_inlined_lines_are_the_headers_lines() -> None:
    source = BUNDLED.source().splitlines()
    for header in local_headers(BUNDLED.program_path):
        start = source.index(f'#line 1 "{header.name}"') + 1
        own = header.read_text().splitlines()
        body = source[start:start + len(own)]
        assert [("" if line.strip() == "#pragma once" else line) for line in own] == body


def test_extending_template_shares_the_headers_and_digest_covers_them(tmp_path: Path) -> None:
    ddos = get_template("ddos_overload")
    assert ddos.program_path == BUNDLED.program_path and ddos.source() == BUNDLED.source()
    copy = tmp_path / "ospf_failure"
    shutil.copytree(BUNDLED.folder, copy, ignore=shutil.ignore_patterns("__pycache__", "__init__.py", "golden"))
    assert load_template(copy).digest() == BUNDLED.digest()
    routing = copy / "routing.h"
    routing.write_text(routing.read_text() + "\n// a researcher's note\n")
    assert load_template(copy).digest() != BUNDLED.digest()


def test_nested_repeated_missing_and_foreign_includes(tmp_path: Path) -> None:
    (tmp_path / "a.h").write_text('#pragma once\n#include "b.h"\nint a = b;\n')
    (tmp_path / "b.h").write_text("#pragma once\nint b = 1;\n")
    program = tmp_path / "p.cc"
    program.write_text('#include "a.h"\n#include "b.h"\n#include "ns3/core-module.h"\n'
                       '#include "missing.h"\n#include "../b.h"\nint main() { return a; }\n')
    assert [p.name for p in local_headers(program)] == ["a.h", "b.h"]
    lines = inline_source(program).splitlines()
    assert lines == ['#line 1 "a.h"', "", '#line 1 "b.h"', "", "int b = 1;", '#line 3 "a.h"', "int a = b;",
                     '#line 2 "p.cc"', '// #include "b.h": inlined above', '#include "ns3/core-module.h"',
                     '#include "missing.h"', '#include "../b.h"', "int main() { return a; }"]


@pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")
def test_a_compiler_error_names_the_header_and_its_line(tmp_path: Path) -> None:
    copy = tmp_path / "broken"
    shutil.copytree(BUNDLED.folder, copy, ignore=shutil.ignore_patterns("__pycache__", "__init__.py", "golden"))
    traffic = copy / "traffic.h"
    lines = traffic.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("namespace")) + 2
    lines.insert(at, "this_is_not_cpp;")
    traffic.write_text("\n".join(lines) + "\n")
    broken = load_template(copy)
    with pytest.raises(SimulationError) as info:
        build_program(broken.source(), broken.manifest.ns3_modules, name="broken")
    assert f"traffic.h:{at + 1}" in str(info.value)


@pytest.mark.ns3
@pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")
def test_the_same_program_under_another_name_is_not_compiled_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """ddos_overload extends ospf_failure and keeps its program: one compilation serves both names (and
    a copy made by ``ani templates new``). With no compiler at all, the second name still gets the program."""
    modules = BUNDLED.manifest.ns3_modules
    first = build_program(BUNDLED.source(), modules, name="ospf_failure")
    monkeypatch.setenv("ANI_CXX", "/nonexistent/no-compiler")
    again = build_program(get_template("ddos_overload").source(), modules, name="ddos_overload-test-copy")
    assert again != first and again.name.startswith("ddos_overload-test-copy-")
    key = first.name.rsplit("-", 1)[1]
    cached = {q.read_bytes() for q in first.parent.glob(f"*-{key}") if q != again}  # a cache may hold earlier copies
    assert again.read_bytes() in cached and again.stat().st_mode & 0o111
    with pytest.raises(SimulationError, match="cannot run the compiler '/nonexistent/no-compiler'"):
        build_program(BUNDLED.source() + "\n// another program\n", modules, name="other")  # needs one

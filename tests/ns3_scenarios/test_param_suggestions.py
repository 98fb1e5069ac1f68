"""A misspelt template parameter gets close matches, as unknown links and nodes do."""

from __future__ import annotations

import pytest

from ani.kg.errors import TemplateError
from ani.ns3_scenarios.templates import get_template


def test_a_typo_names_the_parameter_meant() -> None:
    with pytest.raises(TemplateError, match=r"obsreve_s: did you mean observe_s\?"):
        get_template("ospf_failure").params({"obsreve_s": 1.0})


def test_a_name_like_nothing_gets_no_guess_but_the_known_list() -> None:
    with pytest.raises(TemplateError) as info:
        get_template("ospf_failure").params({"zzz": 1})
    assert "did you mean" not in str(info.value) and "known: auto_size" in str(info.value)

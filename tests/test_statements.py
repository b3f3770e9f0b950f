"""The safe statement parser of synapse_configure / section_configure snippets."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError
from engine.statements import Statement, apply_statement, numeric_attribute, parse_statements

BLOCK = "connection_overrides 'x' synapse_configure"


def test_synapse_statements_with_every_operator_and_separator():
    text = "%s.tau_d_AMPA = 3; %s.Use *= 0.5\n%s.Dep += 1e2 %s.Fac -= .5;%s.Nrrp /= -2.0;"
    parsed = parse_statements(text, "synapse", BLOCK)
    assert [(s.name, s.op, s.value) for s in parsed] == [
        ("tau_d_AMPA", "=", 3.0),
        ("Use", "*=", 0.5),
        ("Dep", "+=", 100.0),
        ("Fac", "-=", 0.5),
        ("Nrrp", "/=", -2.0),
    ]
    assert all(s.where == "%s" and s.index is None for s in parsed)


def test_section_forms():
    (listed,) = parse_statements("apical.gbar_NaTg = 0", "section_list", "m")
    assert (listed.where, listed.index, listed.name) == ("apical", None, "gbar_NaTg")
    (one,) = parse_statements("apic[10].gbar_KTst = 0", "section", "m")
    assert (one.where, one.index, one.name) == ("apic", 10, "gbar_KTst")
    (seg,) = parse_statements(" gbar_KTst *= 2 ", "compartment", "m")
    assert (seg.where, seg.name, seg.op, seg.value) == (None, "gbar_KTst", "*=", 2.0)
    (every,) = parse_statements("%s.cm = 2", "all_sections", "m")
    assert every.where == "%s"


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "%s.Use = __import__('os')",
        "%s.__class__ = 1",
        "%s._ref_v = 1",
        "%s.Use.real = 1",
        "%s.get_segment().sec.L = 1",
        "%s.Use = 1 + 2",
        "%s.Use = 2 * %s.Dep",
        "%s.Use = exp(1)",
        "%s.Use == 1",
        "%s.Use = 1; import os",
        "%s.Use = nan",
        "%s.Use = inf",
        "%s.Use = 1e400",
        "%s.Use = \u0661",  # an Arabic-Indic digit: only ASCII numbers
        "%s.Use /= 0",
        "Use = 1",  # a global / no %s
        "apical.Use = 1",
        "%s.Use",
        "",
        "  ;  ",
    ],
)
def test_anything_else_is_rejected_naming_the_block(text):
    with pytest.raises(ConfigError) as error:
        parse_statements(text, "synapse", BLOCK)
    assert "connection_overrides 'x' synapse_configure" in str(error.value)


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("%s.cm = 1", "section_list"),
        ("dendritic.cm = 1", "section_list"),
        ("apic.cm = 1", "section"),
        ("%s.cm = 1", "section"),
        ("apic[1].cm = 1", "compartment"),
        ("cm = 1", "all_sections"),
        ("apic[1].cm = 1", "all_sections"),
        ("apic[-1].cm = 1", "section"),
        ("somatic[0].cm = 1", "section_list"),
    ],
)
def test_each_form_takes_only_its_own_shape(text, form):
    with pytest.raises(ConfigError, match="modification 'm'"):
        parse_statements(text, form, "modification 'm'")


def test_not_a_string():
    with pytest.raises(ConfigError, match="must be a string"):
        parse_statements(3, "synapse", BLOCK)


def test_a_long_rejected_fragment_is_shortened():
    with pytest.raises(ConfigError) as error:
        parse_statements("%s.Use = 1; " + "x" * 200, "synapse", BLOCK)
    assert "..." in str(error.value) and "x" * 100 not in str(error.value)


class _Target:
    def __init__(self):
        self.Use = 0.5
        self.flag = True

    def method(self):
        return 1.0


def test_application_and_attribute_checks():
    target = _Target()
    for text in ("%s.Use *= 4", "%s.Use -= 1", "%s.Use /= 4", "%s.Use += 2"):
        (statement,) = parse_statements(text, "synapse", BLOCK)
        apply_statement(target, statement)
    assert target.Use == pytest.approx(2.25)
    apply_statement(target, Statement("%s", None, "Use", "=", 7.0))
    assert target.Use == 7.0
    assert numeric_attribute(target, "Use")
    assert not numeric_attribute(target, "method")
    assert not numeric_attribute(target, "flag")
    assert not numeric_attribute(target, "missing")
    assert Statement("apic", 3, "cm", "*=", 2.0).text() == "apic[3].cm *= 2"

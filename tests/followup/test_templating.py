from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.templating import (
    ALLOWED_VARIABLES,
    TemplateSyntaxProblem,
    render_template,
    template_context,
    validate_template,
)

CONTEXT = template_context(nome_completo="Ana Maria Souza", empresa="Acme", closer_nome="Bruno")
MARKERS = ("{{", "}}", "{%", "%}", "{#", "#}")
HINT = "Use {{ primeiro_nome }}, {{ nome_completo }}, {{ empresa }} ou {{ closer_nome }}."


def problem(text: str) -> TemplateSyntaxProblem:
    with pytest.raises(TemplateSyntaxProblem) as caught:
        validate_template(text)
    return caught.value


def test_it_allows_exactly_the_four_documented_variables() -> None:
    assert {"primeiro_nome", "nome_completo", "empresa", "closer_nome"} == ALLOWED_VARIABLES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("primeiro_nome", "Ana"),
        ("nome_completo", "Ana Maria Souza"),
        ("empresa", "Acme"),
        ("closer_nome", "Bruno"),
    ],
)
def test_it_renders_each_allowed_variable(name: str, expected: str) -> None:
    assert render_template(f"Oi {{{{ {name} }}}}!", CONTEXT) == f"Oi {expected}!"


@pytest.mark.parametrize(
    "placeholder",
    ["{{primeiro_nome}}", "{{ primeiro_nome }}", "{{   primeiro_nome}}", "{{\tprimeiro_nome \n}}"],
)
def test_it_accepts_optional_whitespace_inside_the_braces(placeholder: str) -> None:
    validate_template(placeholder)
    assert render_template(f"[{placeholder}]", CONTEXT) == "[Ana]"


def test_it_renders_a_full_message() -> None:
    text = "Olá {{ primeiro_nome }}, aqui é {{closer_nome}} da {{ empresa }}.\nAté logo!"
    assert render_template(text, CONTEXT) == "Olá Ana, aqui é Bruno da Acme.\nAté logo!"


@pytest.mark.parametrize(
    ("text", "placeholder", "reason_start"),
    [
        ("Oi {{ lead.email }}", "{{ lead.email }}", "Acesso a atributos não é permitido"),
        ("{{ lead['email'] }}", "{{ lead['email'] }}", "Acesso a atributos não é permitido"),
        ("{{ nome_completo|upper }}", "{{ nome_completo|upper }}", "Filtros não são permitidos"),
        ("{{ nome }}", "{{ nome }}", "Variável desconhecida: nome."),
        ("{{ Primeiro_Nome }}", "{{ Primeiro_Nome }}", "Variável desconhecida"),
        ("{{ settings }}", "{{ settings }}", "Variável desconhecida"),
        ("{{ primeiro nome }}", "{{ primeiro nome }}", "Placeholder inválido"),
        ("{{ }}", "{{ }}", "Placeholder vazio"),
        ("{% if lead %}x{% endif %}", "{% if lead %}", "Tags de template"),
        ("{% include 'x' ", "{% include 'x' ", "Tags de template"),
        ("Oi {# nota #}", "{# nota #}", "Comentários"),
        ("Oi {{ primeiro_nome", "{{ primeiro_nome", "Placeholder aberto"),
        ("{{ primeiro_nome {{ empresa }}", "{{ primeiro_nome", "Placeholder aberto"),
        ("Oi primeiro_nome }}", "Oi primeiro_nome }}", "}} sem a abertura"),
        ("linha 1\nempresa }} ok", "empresa }}", "}} sem a abertura"),
        ("100%} certo", "100%}", "%} sem a abertura"),
        ("fim #}", "fim #}", "#} sem a abertura"),
    ],
)
def test_it_rejects_anything_but_allowed_placeholders_and_names_the_offender(
    text: str, placeholder: str, reason_start: str
) -> None:
    found = problem(text)
    assert found.placeholder == placeholder
    assert found.reason.startswith(reason_start)
    assert found.reason.endswith(HINT)
    assert str(found) == found.reason
    assert text[found.position : found.position + 2] in MARKERS


def test_it_uses_the_documented_reason_for_an_unknown_variable() -> None:
    assert problem("{{ lead.email }}").placeholder == "{{ lead.email }}"
    assert problem("{{ foo }}").reason == f"Variável desconhecida: foo. {HINT}"


def test_it_reports_the_first_problem() -> None:
    found = problem("{{ empresa }} {{ um }} {{ dois }}")
    assert found.placeholder == "{{ um }}"
    assert found.position == len("{{ empresa }} ")


def test_it_truncates_a_long_unclosed_placeholder() -> None:
    found = problem("{{ primeiro_nome " + "x" * 200)
    assert found.placeholder.startswith("{{ primeiro_nome x")
    assert found.placeholder.endswith("…")
    assert len(found.placeholder) <= 41


def test_it_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Variável desconhecida"):
        validate_template("{{ x }}")


def test_it_validates_before_rendering() -> None:
    with pytest.raises(TemplateSyntaxProblem):
        render_template("{{ lead.email }}", CONTEXT)


def test_it_does_not_render_template_syntax_inside_values() -> None:
    context = template_context(
        nome_completo="{{ closer_nome }} {% debug %}", empresa="{{ x }}", closer_nome="Bruno"
    )
    rendered = render_template("{{ nome_completo }} / {{ empresa }}", context)
    assert rendered == "{{ closer_nome }} {% debug %} / {{ x }}"


def test_it_renders_missing_and_none_values_as_empty() -> None:
    text = "[{{ primeiro_nome }}|{{ empresa }}|{{ closer_nome }}]"
    assert render_template(text, {"primeiro_nome": None}) == "[||]"


def test_it_does_not_escape_html() -> None:
    context = template_context(nome_completo="<b>Ana</b> & Co", empresa=None, closer_nome=None)
    assert render_template("{{ nome_completo }}", context) == "<b>Ana</b> & Co"


def test_it_leaves_single_braces_as_text() -> None:
    assert render_template("{primeiro_nome} {} }{", CONTEXT) == "{primeiro_nome} {} }{"


def test_it_takes_the_first_word_as_the_first_name() -> None:
    assert template_context(nome_completo="  Ana   Souza ", empresa=" Acme ", closer_nome=None) == {
        "primeiro_nome": "Ana",
        "nome_completo": "Ana   Souza",
        "empresa": "Acme",
        "closer_nome": "",
    }


def test_it_builds_an_empty_context_from_none() -> None:
    context = template_context(nome_completo=None, empresa=None, closer_nome=None)
    assert context == dict.fromkeys(ALLOWED_VARIABLES, "")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_it_renders_text_without_template_syntax_unchanged(text: str) -> None:
    if any(marker in text for marker in MARKERS):
        with pytest.raises(TemplateSyntaxProblem):
            validate_template(text)
    else:
        assert render_template(text, CONTEXT) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="{}%#| .abcdeprimo_nlt\n"))
def test_it_only_ever_raises_template_syntax_problem(text: str) -> None:
    try:
        rendered = render_template(text, CONTEXT)
    except TemplateSyntaxProblem as found:
        assert found.placeholder  # noqa: PT017 - a property: any input, this exception only
        assert 0 <= found.position < len(text)  # noqa: PT017
    else:
        assert isinstance(rendered, str)

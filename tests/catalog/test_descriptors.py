"""Parsing and validating Backstage descriptors, entity references, derived relations."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.catalog.descriptors import InvalidDescriptorFile, parse_file
from apps.catalog.refs import RefError, parse_ref
from tests.catalog.conftest import fixtures_root

BACKSTAGE = fixtures_root() / "backstage"
EXAMPLE_FILES = (
    sorted(str(p.relative_to(BACKSTAGE)) for p in BACKSTAGE.rglob("*.yaml"))
    if BACKSTAGE.is_dir()
    else []
)
VALID_FILES = [f for f in EXAMPLE_FILES if f != "components/invalid-component.yaml"]


def problems_of(text: str) -> list[str]:
    with pytest.raises(InvalidDescriptorFile) as caught:
        parse_file(text)
    return [str(p) for p in caught.value.problems]


COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


# --- Backstage's own examples -----------------------------------------------------------


@pytest.mark.parametrize(
    "relative",
    VALID_FILES
    or [
        pytest.param(
            "",
            marks=pytest.mark.skip(
                reason=f"Backstage example descriptors absent: {BACKSTAGE} does not exist"
            ),
        )
    ],
)
def test_every_valid_backstage_example_parses(relative: str) -> None:
    docs = parse_file((BACKSTAGE / relative).read_text())
    assert docs
    for doc in docs:
        assert doc.ref.startswith(f"{doc.kind.lower()}:default/")
        assert doc.raw_text.strip()


def test_invalid_component_example_is_rejected_for_its_name_with_line_and_field(
    backstage_dir: Path,
) -> None:
    problems = problems_of((backstage_dir / "components/invalid-component.yaml").read_text())
    assert problems[0].startswith(
        'document 1, line 4, field metadata.name: "invalid component" is not a valid name'
    )
    assert "letters, digits and [-_.]" in problems[0]
    # Its tag "go 1.15.3" breaks the tag format too, on the line it is written.
    assert any(p.startswith("document 1, line 11, field metadata.tags[1]") for p in problems)


def test_petstore_component_derives_the_relations_backstage_derives(backstage_dir: Path) -> None:
    (doc,) = parse_file((backstage_dir / "components/petstore-component.yaml").read_text())
    assert doc.ref == "component:default/petstore"
    assert [(r.type, r.target, r.inverse) for r in doc.relations] == [
        ("ownedBy", "group:default/team-c", "ownerOf"),
        ("providesApi", "api:default/petstore", "apiProvidedBy"),
        ("providesApi", "api:default/streetlights", "apiProvidedBy"),
        ("providesApi", "api:default/hello-world", "apiProvidedBy"),
    ]


def test_user_owner_keeps_its_kind_and_group_is_the_default(backstage_dir: Path) -> None:
    (searcher,) = parse_file((backstage_dir / "components/searcher-component.yaml").read_text())
    (order,) = parse_file((backstage_dir / "components/playback-order-component.yaml").read_text())
    assert searcher.owner_ref == "user:default/guest"
    assert order.owner_ref == "group:default/guest"


def test_group_children_and_domain_subdomain_relations(backstage_dir: Path) -> None:
    group, location = parse_file((backstage_dir / "acme/org.yaml").read_text())
    assert [(r.type, r.target) for r in group.relations] == [
        ("parentOf", "group:default/infrastructure")
    ]
    assert location.kind == "Location"
    assert location.location_targets[0] == "./infrastructure-group.yaml"
    (artists,) = parse_file((backstage_dir / "domains/artists-domain.yaml").read_text())
    assert ("partOf", "domain:default/audio") in [(r.type, r.target) for r in artists.relations]


def test_api_with_text_placeholder_definition_is_accepted(backstage_dir: Path) -> None:
    (api,) = parse_file((backstage_dir / "apis/wayback-archive-api.yaml").read_text())
    assert api.spec["definition"] == {
        "$text": "https://github.com/APIs-guru/openapi-directory/blob/main/APIs/archive.org/"
        "wayback/1.0.0/openapi.yaml"
    }


# --- Validation messages ---------------------------------------------------------------


def test_problem_in_second_document_names_document_line_and_field() -> None:
    text = COMPONENT.format(name="good") + "---\n" + COMPONENT.format(name="bad name!")
    problems = problems_of(text)
    assert problems == [
        'document 2, line 13, field metadata.name: "bad name!" is not a valid name '
        "(expected 1 to 63 characters: letters, digits and [-_.], starting and ending with a "
        "letter or digit)"
    ]


def test_missing_required_spec_field_points_at_spec() -> None:
    text = COMPONENT.format(name="svc").replace("  owner: team-a\n", "")
    assert problems_of(text) == ["document 1, line 5, field spec.owner: is required"]


def test_unsupported_api_version_and_unknown_kind_are_rejected() -> None:
    text = (
        COMPONENT.format(name="svc")
        .replace("v1alpha1", "v2")
        .replace("kind: Component", "kind: Widget")
    )
    problems = problems_of(text)
    assert problems[0].startswith('document 1, line 1, field apiVersion: "backstage.io/v2"')
    assert problems[1].startswith('document 1, line 2, field kind: "Widget" is not a known kind')


def test_kind_is_case_sensitive_with_a_hint() -> None:
    problems = problems_of(
        COMPONENT.format(name="svc").replace("kind: Component", "kind: component")
    )
    assert 'write "Component"' in problems[0]


def test_yaml_syntax_error_reports_its_line() -> None:
    text = COMPONENT.format(name="svc") + "---\nkind: [unclosed\n"
    problems = problems_of(text)
    assert problems[-1].startswith("document 2, line ")
    assert "not valid YAML" in problems[-1]


def test_duplicate_key_and_duplicate_entity_are_rejected() -> None:
    dup_key = COMPONENT.format(name="svc") + "  owner: team-b\n"
    assert problems_of(dup_key) == [
        "document 1, line 9, field spec.owner: is given twice in the same mapping"
    ]
    twice = COMPONENT.format(name="svc") + "---\n" + COMPONENT.format(name="SVC")
    assert (
        "component:default/svc is defined twice in this file (also in document 1)"
        in (problems_of(twice)[0])
    )


def test_depends_on_without_kind_is_rejected_as_backstage_does() -> None:
    text = COMPONENT.format(name="svc") + "  dependsOn:\n    - artists-db\n"
    assert problems_of(text) == [
        'document 1, line 10, field spec.dependsOn[0]: "artists-db" needs a kind here '
        '(for example "component:artists-db" or "resource:artists-db")'
    ]


def test_mcp_server_api_needs_remotes_and_other_apis_need_a_definition() -> None:
    api = """\
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {{name: {name}}}
spec: {{type: {type}, lifecycle: production, owner: team-a}}
"""
    assert problems_of(api.format(name="a", type="mcp-server")) == [
        "document 1, line 4, field spec.remotes: is required"
    ]
    assert problems_of(api.format(name="b", type="openapi")) == [
        "document 1, line 4, field spec.definition: is required"
    ]


def test_non_mapping_document_and_empty_file_are_rejected() -> None:
    assert problems_of("- just\n- a list\n")[0].startswith("document 1, line 1: expected an entity")
    assert problems_of("# only a comment\n") == ["document 1: the file holds no entity documents"]


def test_yaml_is_read_as_yaml_1_2_so_yes_and_dates_stay_strings() -> None:
    text = COMPONENT.format(name="svc").replace(
        "metadata:\n",
        "metadata:\n  labels:\n    approved: 'yes'\n  annotations:\n"
        "    example.com/since: 2021-01-01\n    example.com/flag: yes\n",
    )
    (doc,) = parse_file(text)
    assert doc.annotations == {"example.com/since": "2021-01-01", "example.com/flag": "yes"}


def test_raw_text_of_each_document_reads_back_to_the_same_data() -> None:
    text = (
        "# leading\n" + COMPONENT.format(name="a") + "# between\n---\n" + COMPONENT.format(name="b")
    )
    docs = parse_file(text)
    reparsed = [parse_file(doc.raw_text)[0].data for doc in docs]
    assert reparsed == [doc.data for doc in docs]
    assert docs[1].raw_text.startswith("apiVersion: backstage.io/v1alpha1")


def test_namespace_defaults_and_relations_stay_in_the_entity_namespace() -> None:
    text = COMPONENT.format(name="svc").replace("  name: svc\n", "  name: svc\n  namespace: ml\n")
    (doc,) = parse_file(text)
    assert doc.ref == "component:ml/svc"
    assert doc.owner_ref == "group:ml/team-a"


# --- Entity references ------------------------------------------------------------------


def test_parse_ref_applies_defaults_and_lowercases_for_comparison() -> None:
    assert parse_ref("Team-A", default_kind="group").canonical == "group:default/team-a"
    assert parse_ref("user:Guest", default_kind="group").canonical == "user:default/guest"
    assert parse_ref("API:payments/Charge").canonical == "api:payments/charge"
    # A slash before the first colon means there is no kind part.
    ref = parse_ref("ns/name:with-colon", default_kind="component")
    assert (ref.kind, ref.namespace, ref.name) == ("component", "ns", "name:with-colon")


@pytest.mark.parametrize("text", ["", "component:", ":name", "component:/name", "a:b/"])
def test_malformed_refs_are_rejected(text: str) -> None:
    with pytest.raises(RefError):
        parse_ref(text, default_kind="component")


def test_namespace_must_be_a_lower_case_dns_label() -> None:
    text = COMPONENT.format(name="svc").replace("  name: svc\n", "  name: svc\n  namespace: ML\n")
    assert problems_of(text)[0].startswith(
        'document 1, line 5, field metadata.namespace: "ML" is not a valid namespace'
    )

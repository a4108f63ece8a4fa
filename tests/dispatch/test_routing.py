"""The routing table: the shipped file over the demo district, and bad files refused with file:line:col."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cityvitals.dispatch.routing import DEFAULT_ROUTING, check_file
from tests.conftest import REPO
from tests.dispatch.conftest import CENTRE, COMMITTEE, GRID, HEAD, SUBCENTRE


def test_units_follow_the_area_tree(routing):
    head = routing.route(GRID)
    assert head.id == HEAD and head.name_en == "Grid head of Jiangpu Community 1 Grid 1"
    chain = [head]
    while (up := routing.parent(chain[-1])) is not None:
        chain.append(up)
    assert [u.id for u in chain] == [HEAD, COMMITTEE, SUBCENTRE, CENTRE]
    assert routing.is_below(routing.unit(HEAD), routing.unit(SUBCENTRE))
    assert not routing.is_below(routing.unit(SUBCENTRE), routing.unit(HEAD))
    assert not routing.is_below(routing.unit("pukou.qiaolin/subcentre"), routing.unit(SUBCENTRE))


def test_the_district_routes_by_domain_to_a_department(routing):
    assert routing.route("pukou", "eco_environment").id == "dept.eco"
    assert routing.route("pukou", None).id == CENTRE  # no domain: the centre itself
    assert routing.route("pukou.jiangpu", "eco_environment").id == SUBCENTRE  # streets handle first
    assert routing.parent(routing.unit("dept.eco")).id == CENTRE
    assert routing.is_below(routing.unit(SUBCENTRE), routing.unit("dept.eco"))


def test_unknown_units_are_none(routing):
    for unit in ("pukou.jiangpu/head", "nowhere/head", "dept.nope", GRID, ""):
        assert routing.unit(unit) is None, unit


def test_deadlines_by_task_type(routing):
    assert routing.deadlines_s("urgent") == (600.0, 4 * 3600.0)


BAD = [  # (text replaced in the shipped file, replacement, expected error: line:col: reason)
    ("  grid:      {suffix: head,", "  grid:      {suffx: head,", ":9:22: levels.grid.suffx: Extra inputs"),
    ("groups: [eco_environment]", "groups: [ecology]", ":16:84: departments.1.groups.0: Input should be"),
    ("{id: dept.eco,", "{id: dept.citymgmt,", ":16:10: departments.1.id: 'dept.citymgmt' appears twice"),
    ("default_type: inspect", "default_type: survey", ":23:15: default_type: 'survey' is not one of"),
    ('"Grid head of {name_en}"', '"Grid head of {area}"', ":9:65: levels.grid.name.en: Value error, unknown "
                                                          "placeholder(s) ['area']"),
    ("sign_minutes: 10,", "sign_minutes: -1,", ":27:55: task_types.urgent.sign_minutes: Input should be greater"),
    ("groups: [social_governance, party_building]", "groups: [social_governance, city_management]",
     ":19:104: departments.4.groups: 'city_management' is 'dept.citymgmt''s already"),
    ("  grid:      {suffix: head,", "  grid:      {suffix: head,\n  bad: [", ":10:71: YAML syntax"),
]


@pytest.mark.parametrize("old,new,expected", BAD, ids=[b[2].split(": ")[1] for b in BAD])
def test_bad_files_are_refused_with_positions(tmp_path, demo_tree, old, new, expected):
    text = DEFAULT_ROUTING.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "routing.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    errors = check_file(path)
    assert any(e.startswith(f"{path}{expected}") for e in errors), errors


def test_a_missing_level_is_named(tmp_path, demo_tree):
    text = DEFAULT_ROUTING.read_text(encoding="utf-8")
    path = tmp_path / "routing.yaml"
    path.write_text("\n".join(line for line in text.splitlines() if not line.startswith("  community:")))
    assert check_file(path) == [f"{path}:6:3: levels: no unit for level(s) community"]


def test_routing_check_command(tmp_path):
    good = subprocess.run([sys.executable, "-m", "wiring.cli", "routing", "check", str(DEFAULT_ROUTING)],
                          cwd=REPO, capture_output=True, text=True, env={"CITYVITALS_DATA_DIR": str(tmp_path),
                                                                         "PATH": "/usr/bin:/bin"})
    assert good.returncode == 0, good.stderr
    assert "6 departments, 3 task types" in good.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT_ROUTING.read_text(encoding="utf-8").replace("default_type: inspect", "default_type: x"))
    out = subprocess.run([sys.executable, "-m", "wiring.cli", "routing", "check", str(bad)],
                         cwd=REPO, capture_output=True, text=True, env={"CITYVITALS_DATA_DIR": str(tmp_path),
                                                                        "PATH": "/usr/bin:/bin"})
    assert out.returncode == 1
    assert f"{bad}:23:15: default_type: 'x' is not one of the task_types" in out.stdout

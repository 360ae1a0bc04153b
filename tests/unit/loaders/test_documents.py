"""documents.read: safe YAML reading, and the line of every field."""

from __future__ import annotations

import pathlib
import tracemalloc

import pytest

from dctenant.loaders import documents
from tests.conftest import QuotasCopy

BALE = "tenants/bale.yaml"


def read(tmp_path: pathlib.Path, content: str | bytes) -> tuple[documents.Document | None, tuple]:
    path = tmp_path / "doc.yaml"
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return documents.read(path, display="doc.yaml")


def only(problems: tuple) -> object:
    assert len(problems) == 1, problems
    return problems[0]


def test_lines_of_fields_and_list_items(tmp_path: pathlib.Path) -> None:
    doc, problems = read(tmp_path, "# comment\na: 1\nb:\n  c: [x, y]\n  d:\n    - e: 2\n      f: 3\n")
    assert problems == ()
    assert doc is not None
    assert doc.data == {"a": 1, "b": {"c": ["x", "y"], "d": [{"e": 2, "f": 3}]}}
    assert doc.line(("a",)) == 2
    assert doc.line(("b", "c")) == 4
    assert doc.line(("b", "c", 1)) == 4
    assert doc.line(("b", "d", 0)) == 6
    assert doc.line(("b", "d", 0, "f")) == 7
    # A path that does not exist falls back to its nearest ancestor.
    assert doc.line(("b", "d", 0, "missing", "deeper")) == 6
    assert doc.line(("nothing",)) == 2  # the root mapping starts on line 2


def test_yaml_syntax_error_names_line_and_column(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "  tier: national\n", "  tier: national: yes\n")
    problem = qcopy.only_problem()
    assert problem.file == qcopy.file(BALE)
    assert problem.line == qcopy.line(BALE, "  tier: national: yes")
    assert problem.field == ""
    assert problem.message == "YAML syntax error: mapping values are not allowed in this context (column 17)"
    assert str(problem) == f"{qcopy.file(BALE)}:{problem.line}: {problem.message}"


def test_unclosed_bracket_is_reported_where_the_parser_notices(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "  tier: national\n", "  tier: [national\n")
    problem = qcopy.only_problem()
    assert problem.line == qcopy.line(BALE, "  tier: [national") + 1
    assert problem.message == "YAML syntax error: did not find expected ',' or ']' (column 10)"


def test_syntax_error_column_is_one_based(tmp_path: pathlib.Path) -> None:
    _, problems = read(tmp_path, "a: 1\nb: c: d\n")
    problem = only(problems)
    assert problem.line == 2
    assert problem.message == "YAML syntax error: mapping values are not allowed in this context (column 5)"


def test_tab_indentation_is_a_syntax_error(tmp_path: pathlib.Path) -> None:
    _, problems = read(tmp_path, "a:\n\tb: 1\n")
    problem = only(problems)
    assert problem.line == 2
    assert problem.message.startswith("YAML syntax error")


def test_non_utf8_file(qcopy: QuotasCopy) -> None:
    raw = qcopy.path(BALE).read_bytes()
    qcopy.path(BALE).write_bytes(raw.replace(b'{en: "Bale"', b'{en: "B\xe4le"'))
    problem = qcopy.only_problem()
    offset = raw.index(b'{en: "Bale"') + len(b'{en: "B')
    assert problem.file == qcopy.file(BALE)
    assert problem.line == raw[:offset].count(b"\n") + 1 == 7
    assert problem.message == f"not UTF-8 text (byte 0xe4 at offset {offset})"
    assert problem.hint == "save the file as UTF-8"


def test_latin1_first_byte(tmp_path: pathlib.Path) -> None:
    _, problems = read(tmp_path, b"\xff\xfea: 1\n")
    problem = only(problems)
    assert problem.line == 1
    assert problem.message == "not UTF-8 text (byte 0xff at offset 0)"


@pytest.mark.parametrize("content", ["", "\n\n", "   \n\t\n", "# only a comment\n", "# one\n\n   # two\n#three"])
def test_empty_and_comment_only_files(qcopy: QuotasCopy, content: str) -> None:
    qcopy.write(BALE, content)
    problem = qcopy.only_problem()
    assert problem.file == qcopy.file(BALE)
    assert problem.line is None
    assert problem.field == ""
    assert problem.message == "file is empty"
    assert problem.hint == "add an apiVersion, kind, metadata and spec, or delete the file"


@pytest.mark.parametrize(("content", "line", "got"), [
    ("---\n...\n", 2, "nothing (null)"),
    ("null\n", 1, "nothing (null)"),
    ("- a\n- b\n", 1, "a list"),
    ("just text\n", 1, "a string"),
])
def test_top_level_must_be_a_mapping(qcopy: QuotasCopy, content: str, line: int, got: str) -> None:
    qcopy.write(BALE, "# header\n" + content)
    problem = qcopy.only_problem()
    assert (problem.file, problem.line, problem.field) == (qcopy.file(BALE), line + 1, "")
    assert problem.message == f"expected a mapping, got {got}"


def test_several_documents_in_one_file(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "kind: Tenant\n", "kind: Tenant\n---\nkind: Tenant\n")
    problem = qcopy.only_problem()
    assert problem.file == qcopy.file(BALE)
    assert problem.line == qcopy.line(BALE, "---")
    assert problem.message == "the file holds more than one YAML document"
    assert problem.hint == "keep one document per file"


def billion_laughs(levels: int = 9) -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for name in "bcdefghijklmnop"[: levels - 1]:
        text += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text


def test_yaml_bomb_fails_fast_without_memory(tmp_path: pathlib.Path) -> None:
    # Not timed (timings belong in benchmarks): the memory peak proves the aliases were not expanded,
    # and an expansion of 9^9 nodes would not finish at all.
    tracemalloc.start()
    try:
        document, problems = read(tmp_path, billion_laughs())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert document is None
    problem = only(problems)
    assert problem.line is None
    assert problem.message == f"YAML aliases expand to more than {documents.MAX_NODES} nodes"
    assert "aliases" in (problem.hint or "")
    assert peak < 64 * 1024 * 1024  # 9^9 nodes expanded would need hundreds of GiB


def test_yaml_bomb_in_a_tenant_file(qcopy: QuotasCopy) -> None:
    qcopy.write(BALE, billion_laughs())
    problem = qcopy.only_problem()
    assert problem.file == qcopy.file(BALE)
    assert "aliases expand" in problem.message


def test_modest_aliases_are_allowed(tmp_path: pathlib.Path) -> None:
    document, problems = read(tmp_path, "base: &b {cpu: 1}\ncopy: *b\n")
    assert problems == ()
    assert document is not None
    assert document.data == {"base": {"cpu": 1}, "copy": {"cpu": 1}}


def test_file_over_one_mebibyte(qcopy: QuotasCopy) -> None:
    qcopy.write(BALE, qcopy.read(BALE) + "#" * documents.MAX_BYTES)
    size = qcopy.path(BALE).stat().st_size
    problem = qcopy.only_problem()
    assert (problem.file, problem.line, problem.field) == (qcopy.file(BALE), None, "")
    assert problem.message == f"file is {size} bytes, over the 1 MiB limit"
    assert problem.hint == "split it into smaller files"


def test_exactly_one_mebibyte_is_allowed(tmp_path: pathlib.Path) -> None:
    head = "a: 1\n"
    document, problems = read(tmp_path, head + "#" * (documents.MAX_BYTES - len(head)))
    assert problems == ()
    assert document is not None


def test_python_tags_are_refused(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "  tier: national\n", "  tier: !!python/name:os.system x\n")
    problem = qcopy.only_problem()
    assert problem.line == qcopy.line(BALE, "  tier: !!python/name:os.system x")
    assert problem.message == ("YAML value error: could not determine a constructor for the tag "
                               "'tag:yaml.org,2002:python/name:os.system'")


def test_tags_on_collections_are_ignored_not_constructed(qcopy: QuotasCopy) -> None:
    # The builder never asks PyYAML to construct a collection, so a python tag there is inert data.
    qcopy.edit(BALE, "  tier: national\n", "  tier: !!python/object/apply:os.system [echo]\n")
    problem = qcopy.only_problem()
    assert (problem.field, problem.message) == ("spec.tier", "expected a string, got a list")


def test_duplicate_key_is_reported_not_silently_dropped(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, "  tier: national\n", "  tier: national\n  tier: startup\n")
    problem = qcopy.only_problem()
    assert problem.file == qcopy.file(BALE)
    assert problem.line == qcopy.line(BALE, "  tier: startup")
    assert problem.field == "spec.tier"
    first = qcopy.line(BALE, "  tier: national")
    assert problem.message == f'"tier" is given twice in this mapping (first on line {first})'


@pytest.mark.parametrize("text", ["2022-13-12", "2022-02-30"])
def test_impossible_date_is_a_field_problem_not_a_crash(qcopy: QuotasCopy, text: str) -> None:
    qcopy.edit(BALE, "    issued: 2022-04-12\n", f"    issued: {text}\n")
    problem = qcopy.only_problem()
    assert (problem.file, problem.line, problem.field) == (
        qcopy.file(BALE), qcopy.line(BALE, f"    issued: {text}"), "spec.licence.issued")
    assert problem.message == f"expected a date, got '{text}'"


def test_integer_beyond_python_digit_limit_is_not_a_crash(qcopy: QuotasCopy) -> None:
    huge = "9" * 5000
    qcopy.edit(BALE, '      cpu: "6000"\n', f"      cpu: {huge}\n")
    problems = qcopy.problems()
    assert [(p.field, p.line) for p in problems] == [
        ("spec.demand.thr-ab.cpu", qcopy.line(BALE, f"      cpu: {huge}"))]
    assert "too large" in problems[0].message


def test_unreadable_path(tmp_path: pathlib.Path) -> None:
    document, problems = documents.read(tmp_path / "absent.yaml", display="absent.yaml")
    assert document is None
    problem = only(problems)
    assert problem.file == "absent.yaml"
    assert problem.message.startswith("cannot read file")


def test_control_character_is_a_problem_not_a_crash(qcopy: QuotasCopy) -> None:
    qcopy.edit(BALE, '  displayName: {en: "Bale"', '  displayName: {en: "Ba\x1fle"')
    problem = qcopy.only_problem()
    assert (problem.file, problem.line, problem.field) == (qcopy.file(BALE), 7, "")
    assert problem.message == "YAML syntax error: control characters are not allowed (character U+001F)"


def test_control_character_after_persian_text_gets_the_right_line(tmp_path: pathlib.Path) -> None:
    _, problems = read(tmp_path, "a: بلهبله\nb: بله\nc: \x7f\n")
    assert only(problems).line == 3


def test_undefined_alias_is_not_called_a_second_document(tmp_path: pathlib.Path) -> None:
    _, problems = read(tmp_path, "a: 1\nb: *nothere\n")
    problem = only(problems)
    assert problem.line == 2
    assert problem.message == "YAML syntax error: found undefined alias (column 4)"


def test_duplicate_anchor_is_not_called_a_second_document(tmp_path: pathlib.Path) -> None:
    _, problems = read(tmp_path, "a: &x 1\nb: &x 2\n")
    problem = only(problems)
    assert problem.line == 2
    assert problem.message == "YAML syntax error: found duplicate anchor (column 4)"

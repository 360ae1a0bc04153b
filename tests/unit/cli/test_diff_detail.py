"""How ``diff`` shows a changed value: long texts at their first differing line, maps by their keys (issue 21)."""

from __future__ import annotations

from dctenant.cli.commands import diff

QUOTAS = "".join(f"  line{i}: value {i} of a quotas/ file that is long enough to be cut\n" for i in range(40))


def test_a_long_text_is_shown_where_it_differs_not_at_a_common_prefix() -> None:
    after = QUOTAS.replace("line17: value 17", "line17: value 99")
    text = diff.change_text(QUOTAS, after)
    assert text.startswith("line 18: ")
    # Each side is the differing line, JSON-quoted and cut at 57 characters: the change is visible.
    assert text == ('line 18: "  line17: value 17 of a quotas/ file that is long enough… → '
                    '"  line17: value 99 of a quotas/ file that is long enough…')
    assert "more lines" not in text


def test_several_changed_lines_are_counted() -> None:
    after = QUOTAS.replace("value 3 ", "value x ").replace("value 30 ", "value y ")
    assert diff.change_text(QUOTAS, after).endswith("(and 1 more lines)")


def test_an_added_last_line_is_shown_against_no_line() -> None:
    text = diff.change_text(QUOTAS, QUOTAS + "extra: 1\n")
    assert text.startswith("line 41: (no line) → ")


def test_a_long_single_line_is_shown_around_the_first_difference() -> None:
    before = "x" * 100 + "abc" + "y" * 50
    after = "x" * 100 + "abd" + "y" * 50
    text = diff.change_text(before, after)
    assert text.startswith("at character 103: ")
    # 20 characters of context before the first difference (index 102): 18 x's and "ab".
    assert '"…' + "x" * 18 + "abc" in text and '"…' + "x" * 18 + "abd" in text


def test_maps_name_the_keys_that_differ() -> None:
    before = {"a.yaml": "1", "b.yaml": "2", "gone.yaml": "3"}
    after = {"a.yaml": "1", "b.yaml": "20", "new.yaml": "4"}
    assert diff.change_text(before, after) == "changed: b.yaml; added: new.yaml; removed: gone.yaml"


def test_short_values_are_shown_whole() -> None:
    assert diff.change_text("4", "8") == '"4" → "8"'
    assert diff.change_text(None, 53) == "(absent) → 53"

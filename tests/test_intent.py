"""Reading a query's language and status intent."""

from __future__ import annotations

import pytest

from service.intent import detect_language, read_intent, without_self_reference


@pytest.mark.parametrize(
    ("query", "statuses"),
    [
        ("検討中の施策は?", ("検討中",)),
        ("実施中のものはどれ?", ("実施中",)),
        ("実施済みの施策をすべて教えて", ("実施済み",)),
        ("Which measures are still under consideration?", ("検討中",)),
        ("List every measure that is in progress", ("実施中",)),
        ("Show all implemented measures", ("実施済み",)),
        ("まだ実施されていない施策は?", ("実施中", "検討中")),
        ("Which recommendations have not been completed yet?", ("実施中", "検討中")),
        ("実施中となっている施策をすべて挙げてください", ("実施中",)),
        ("すでに実施済みの施策の番号を全部教えて", ("実施済み",)),
        # words around the status that name no topic: "only", "the panel's", a contrast
        ("Which of the panel's recommendations are still only under study?", ("検討中",)),
        (
            "Which recommendations are only under consideration rather than being carried out?",
            ("検討中",),
        ),
    ],
)
def test_status_only_questions(query: str, statuses: tuple[str, ...]) -> None:
    intent = read_intent(query)
    assert intent.status_only
    assert intent.status_words == statuses


@pytest.mark.parametrize(
    "query",
    [
        "Has the My Number linkage for residence procedures been implemented?",
        "マイナンバー連携は実施済み?",
        "特定技能2号の分野は?",
        "Which fields were added to Specified Skilled Worker (ii)?",
    ],
)
def test_topical_questions_are_not_status_lists(query: str) -> None:
    assert not read_intent(query).status_only


def test_status_word_with_a_topic_and_list_cue_scopes_the_search() -> None:
    intent = read_intent("Which refugee measures have been implemented?")
    assert intent.status_scoped and not intent.status_only
    assert intent.status_words == ("実施済み",)


@pytest.mark.parametrize(
    ("query", "language"),
    [
        ("特定技能2号の分野は?", "ja"),
        ("SSW (ii) fields?", "en"),
        ("ＦＲＥＳＣ", "en"),
        ("カード", "ja"),
    ],
)
def test_language(query: str, language: str) -> None:
    assert detect_language(query) == language


@pytest.mark.parametrize(
    ("query", "topic"),
    [
        ("What does the report say about refugees?", "What does say about refugees?"),
        (
            "According to this document, is the grant widened?",
            "According to , is the grant widened?",
        ),
        ("the roundtable report's view on brokers", "view on brokers"),
        ("Where are the translated country reports?", "Where are the translated country reports?"),
        ("報告書では何と言っている?", "報告書では何と言っている?"),  # Japanese: left as it is
        ("the report", "the report"),  # nothing else: the query as it is
    ],
)
def test_the_report_itself_is_no_topic(query: str, topic: str) -> None:
    assert without_self_reference(query) == topic

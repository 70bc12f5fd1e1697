"""Tests for indexer.parse on the real corpus, a second fixture and malformed inputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer.parse import ParseError, normalize_for_matching, parse_report, parse_report_file

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "reports" / "isa-7th-roundtable-status-2024" / "source.txt"
SECOND = Path(__file__).resolve().parent / "fixtures" / "second_report.txt"

IN_PROGRESS = {1, 2, 4, 17, 21, 28, 29}
UNDER_CONSIDERATION = {3, 11, 20}
HEADER_TEXTS = (
    "出入国在留管理基本計画策定後に",
    "第７次出入国管理政策懇談会報告書",
    "資料②",
    "施策番号",
    "対象施策",
    "実施状況の説明",
)
# An ASCII space (or tab) between two Japanese characters is a join/layout artefact.
_CJK = r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]"
SPURIOUS_SPACE = re.compile(rf"{_CJK}[ \t]+{_CJK}")


@pytest.fixture(scope="module")
def measures():
    return parse_report_file(CORPUS)


def _fields(m):
    return {"target": m.target, "explanation": m.explanation, "note": m.notes}


def test_corpus_has_33_measures_numbered_consecutively(measures):
    assert [m.number for m in measures] == list(range(1, 34))


def test_statuses(measures):
    for m in measures:
        if m.number in IN_PROGRESS:
            expected = "実施中"
        elif m.number in UNDER_CONSIDERATION:
            expected = "検討中"
        else:
            expected = "実施済み"
        assert m.status == expected, m.number


def test_measure_1_label_order_quirk(measures):
    m1 = measures[0]
    assert m1.target.startswith("厳格な入国管理について")
    assert m1.target.endswith("実用化に向けて検討すること。")
    assert m1.explanation.startswith("入管DXの一環として")
    assert m1.explanation.endswith("両省庁で実証実験を行っている。")
    assert m1.notes == ""


def test_no_header_or_label_text_in_fields(measures):
    for m in measures:
        for name, text in _fields(m).items():
            for bad in HEADER_TEXTS:
                assert bad not in text, (m.number, name, bad)
            assert not re.search(r"実施状況\s*(実施中|実施済み|検討中)", text)


def test_fields_are_clean_paragraphs(measures):
    for m in measures:
        for name, text in _fields(m).items():
            if name != "note":
                assert text.strip(), (m.number, name)
            assert text == text.strip(), (m.number, name)
            for para in text.split("\n") if text else []:
                assert para, (m.number, name)
                assert not para[0].isspace(), (m.number, name, para[:10])


def test_latin_words_joined_with_space(measures):
    assert "Complementary Pathways" in measures[17].explanation
    assert "CRCP（Consultations on Resettlement and Complementary Pathways）" in (
        measures[17].explanation
    )


def test_no_spurious_spaces_between_japanese(measures):
    for m in measures:
        for name, text in _fields(m).items():
            assert not SPURIOUS_SPACE.search(text), (m.number, name, SPURIOUS_SPACE.search(text))


def test_hard_wraps_joined_without_gaps(measures):
    assert "電子渡航認証制度" in measures[0].explanation
    assert "ＩＴ技術・イノベーション" in measures[0].target
    assert "２０２４年３月に運用開始した。" in measures[1].explanation
    # The title keeps its original ideographic space.
    assert "「同ガイドライン　話し言葉のポイント」" in measures[26].explanation


def test_paragraphs_and_bullets(measures):
    paras = measures[1].explanation.split("\n")
    assert len(paras) == 4
    assert paras[1].startswith("２０２２年３月には")
    lines = measures[18].explanation.split("\n")
    assert lines[1:4] == [
        "・安全・安心な社会",
        "・多様性に富んだ活力ある社会",
        "・個人の尊厳と人権を尊重した社会",
    ]
    assert lines[4].startswith("の３つを掲げ")
    bullets = [p for p in measures[27].explanation.split("\n") if p.startswith("・")]
    assert len(bullets) == 2
    assert bullets[0].endswith("QRコードの掲載")


def test_measure_7_notes(measures):
    m7 = measures[6]
    for marker in ("（注１）", "（注２）", "（注３）"):
        assert marker in m7.notes
        # The footnotes themselves are not in the explanation: no paragraph starts with a
        # marker. (The explanation keeps its inline references "１１分野（注２）を…".)
        assert not any(p.startswith(marker) for p in m7.explanation.split("\n"))
    assert m7.notes.startswith("（注１）二国間取決めの状況")
    assert m7.explanation.endswith("新たな業務を追加等（注３）することを決定した。")
    countries = (
        "フィリピン カンボジア ネパール ミャンマー モンゴル スリランカ インドネシア "
        "ベトナム バングラデシュ ウズベキスタン パキスタン タイ インド マレーシア ラオス "
        "キルギス タジキスタン"
    ).split()
    assert len(countries) == 17
    for country in countries:
        assert country in m7.notes, country
    assert "17か国と作成" in m7.notes
    fields = (
        "ビルクリーニング分野 素形材・産業機械・電気電子情報関連製造業分野 建設分野 "
        "造船・舶用工業分野 自動車整備分野 航空分野 宿泊分野 農業分野 漁業分野 "
        "飲食料品製造業分野 外食業分野"
    ).split()
    assert len(fields) == 11
    note2 = m7.notes[m7.notes.index("（注２）") : m7.notes.index("（注３）")]
    for f in fields:
        assert f in note2, f
    assert note2.rstrip().endswith("飲食料品製造業分野及び外食業分野")
    assert all(m.notes == "" for m in measures if m.number != 7)


def test_measure_7_explanation_excludes_notes(measures):
    m7 = measures[6]
    assert "二国間取決めの状況" not in m7.explanation
    assert "ビルクリーニング分野" not in m7.explanation
    # Inline references to the notes stay in the explanation.
    assert "１１分野（注２）を特定技能２号" in m7.explanation


def test_measure_13_explanation_end(measures):
    assert measures[12].explanation.endswith("引き続き要件の明確化に努める。")
    assert "については、規制及び緩和の両面から" in measures[12].target


def test_original_characters_kept(measures):
    assert "２０２２年３月" in measures[1].explanation  # not NFKC-folded
    assert normalize_for_matching("２０２２年ＵＮＨＣＲ") == "2022年UNHCR"


def test_second_report_fixture():
    ms = parse_report_file(SECOND)
    assert [(m.number, m.status) for m in ms] == [(1, "実施済み"), (2, "実施中"), (3, "検討中")]
    m1, m2, m3 = ms
    assert m1.target == (
        "地域公共交通の維持・確保に向けて、市町村が地域公共交通計画を策定できるよう、"
        "国は必要な支援を行うこと。"
    )
    assert m1.explanation.split("\n") == [
        "地域公共交通計画の策定を支援するため、２０２３年４月に手引きを改訂し、"
        "市町村向けの説明会を全国８か所で開催した。",
        "また、計画策定に要する経費の一部を補助する制度を創設した。",
    ]
    assert m2.target == (
        "デマンド交通の導入について、先進的な取組事例（注１）を収集し、広く周知すること。"
    )
    assert m2.explanation.endswith("引き続き、事例の収集に努める。")
    assert "（注" not in m2.explanation
    assert m2.notes.split("\n") == [
        "（注１）先進事例の例",
        "北海道Ａ町、長野県Ｂ村及び鹿児島県Ｃ市における予約型乗合交通",
        "（注２）事例集は毎年度改訂している。",
    ]
    assert "Ride Sharing等" in m3.target
    assert m3.explanation.split("\n") == [
        "関係省庁において、次の事項について検討を進めている。",
        "・運賃の一括決済",
        "・乗換案内の多言語化",
        "引き続き、関係者の意見を聴取しつつ検討を進める。",
    ]
    for m in ms:
        assert m.notes == "" or m.number == 2
        for text in _fields(m).values():
            for bad in HEADER_TEXTS:
                assert bad not in text


# --- malformed input -------------------------------------------------------------------


def _measure(number: str, status: str = "実施済み", target: bool = True) -> list[str]:
    lines = [f" {number} 実施状況 {status}", "", "施策番号", ""]
    if target:
        lines += ["対象施策", "", "　 何々を検討すること。", ""]
    lines += ["実施状況の説明", "", "　 検討を行った。"]
    return lines


def _report(*measures: list[str]) -> str:
    return "\n".join(["", "資料②", ""] + [line for m in measures for line in m]) + "\n"


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.split("\n"), 1) if needle in line)


def _assert_parse_error(text: str, line: int, *words: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_report(text, source="bad.txt")
    err = info.value
    assert err.line == line
    assert f"line {line}" in str(err)
    assert "bad.txt" in str(err)
    for w in words:
        assert w in str(err)


def test_minimal_report_parses():
    ms = parse_report(_report(_measure("1"), _measure("2", "検討中")))
    assert [(m.number, m.status, m.target) for m in ms] == [
        (1, "実施済み", "何々を検討すること。"),
        (2, "検討中", "何々を検討すること。"),
    ]


def test_missing_number():
    text = _report(_measure("1"), _measure(""))
    line = text.split("\n").index("  実施状況 実施済み") + 1
    _assert_parse_error(text, line, "number")


def test_gap_in_numbers():
    text = _report(_measure("1"), _measure("3"))
    _assert_parse_error(text, _line_of(text, "3 実施状況"), "expected measure 2")


def test_unknown_status():
    text = _report(_measure("1"), _measure("2", "保留"))
    _assert_parse_error(text, _line_of(text, "保留"), "保留")


def test_duplicate_number():
    text = _report(_measure("1"), _measure("2"), _measure("2"))
    dup_line = [i for i, ln in enumerate(text.split("\n"), 1) if "2 実施状況" in ln][1]
    _assert_parse_error(text, dup_line, "duplicate")


def test_measure_without_target():
    text = _report(_measure("1"), _measure("2", target=False))
    _assert_parse_error(text, _line_of(text, "2 実施状況"), "対象施策")


def test_empty_label_text():
    text = _report(_measure("1")).replace("　 検討を行った。", "")
    _assert_parse_error(text, _line_of(text, "実施状況の説明"), "empty")


def test_empty_file():
    _assert_parse_error("", 1, "no measures")
    _assert_parse_error("\n\n資料②\n", 1, "no measures")


def test_text_before_first_measure():
    text = "何かの前書き\n" + _report(_measure("1"))
    _assert_parse_error(text, 1, "before the first measure")


def test_decoding_error(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_bytes(_report(_measure("1")).encode("utf-8") + b"\n\xff\xfe\n")
    with pytest.raises(ParseError) as info:
        parse_report_file(path)
    assert "UTF-8" in str(info.value)
    assert str(path) in str(info.value)
    assert f"line {info.value.line}" in str(info.value)

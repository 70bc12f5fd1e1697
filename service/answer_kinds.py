"""What a question asks for (a count, a date, an age, a place …) and whether the evidence states
one: a question asking "when" is not answered by a measure that names no date.

Each kind is data: a pattern that finds it in a question, and what the evidence must contain
to state it. Counts are read in the best measure's retrieved passages, years and the other
kinds in its whole text (notes included), all NFKC-folded.
How each was measured: BENCHMARKS.md (issue 10, fourth round).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

from service.search import SearchOutcome


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _evidence(outcome: SearchOutcome, depth: int = 1) -> list[str]:
    """The texts of the top ``depth`` measures' retrieved passages, NFKC-folded."""
    return [_folded(p.passage.text) for hit in outcome.results[:depth] for p in hit.passages]


def _best_measure_text(outcome: SearchOutcome) -> str:
    """The whole best measure (target, explanation and notes: measure 7's footnotes list the
    countries), NFKC-folded; not only the passages retrieved for the question."""
    m = outcome.results[0].measure
    return _folded("\n".join((m.target, m.explanation, m.notes)))


# An amount of money asked for without "how much": "what is the annual budget of …", "what
# minimum yearly income …", "予算はどれくらい".
ASKS_MONEY = (
    r"\bwhat(?:'s| is| was| are| were) the (?:\w+ ){0,3}(?:budget|income|salary|wage|fee|fees|"
    r"cost|price)\b|\bwhat (?:(?:minimum|maximum|annual|yearly|monthly|average|total) ){1,2}"
    r"(?:income|salary|wage|budget)\b|(?:予算|年収|収入|費用|給料|給与|賃金)(?:は|って|の額は?)?(?:いくら|どれくらい|どのくらい)"
)

# A question asking for a quantity ("how many", "何人") can only be answered by a passage
# that states one: a number that is not part of a date, an ordinal or a category name.
# "a set number of hours" or "cut the number of documents" ask for no count.
ASKS_COUNT = re.compile(
    r"何人|何名|何件|何か国|何カ国|何ヶ国|何社|何団体|何分野|何か所|何%|何パーセント|何割|何円|"
    r"いくつ|いくら|人数|件数|金額|\b(?:how many|how much|what percentage|what share|"
    r"what proportion|in yen|yen)\b|"
    r"\bwhat(?:'s| is| was| are| were)? the (?:total |exact |annual |overall )?number of\b|"
    + ASKS_MONEY,
    re.IGNORECASE,
)
_NOT_A_COUNT = re.compile(
    r"(?:令和|平成|昭和)?\d+年度?|\d+月|\d+日|第\d+|\d+号|\d+次|\d+級|\d+条|\d+項|"
    r"\d+(?:\.\d+)*(?=[)）])"
)


_ANY_NUMBER = re.compile(r"\d")


@dataclass(frozen=True)
class CountUnit:
    """A kind of quantity a question can ask for, and the unit a passage must state it in."""

    name: str
    asks: re.Pattern[str]  # the question asks for this kind of quantity
    states: re.Pattern[str]  # a passage states one (after dates and ordinals are removed)


# Counted people, money and countries have units the report always writes (26名, 3人,
# 手数料…円, 17か国); any other count ("259に拡大") is met by any number.
_PEOPLE = (
    r"people|persons|individuals|foreigners|foreign (?:nationals|residents|workers)|residents|"
    r"refugees|asylum seekers|applicants|workers|trainees|interns|staff|officers|officials|"
    r"counsel+ors|interpreters|students|children|migrants|immigrants|employees|visitors|"
    r"tourists|nationals|members|detainees|descendants"
)
COUNT_UNITS: tuple[CountUnit, ...] = (
    CountUnit(
        "people",
        re.compile(rf"何人|何名|人数|\bhow many (?:\w+ )?(?:{_PEOPLE})\b", re.IGNORECASE),
        re.compile(r"\d[\d,]*\s*(?:万|千)?\s*(?:人|名)"),
    ),
    CountUnit(
        "money",
        re.compile(
            r"何円|いくら|金額|\b(?:in yen|yen)\b|\bhow much (?:money|does|do|is|will|would|did)\b"
            r".*\b(?:cost|fee|fees|pay|paid|charge|budget|salary|wage|income|spend|spent)\b|"
            + ASKS_MONEY,
            re.IGNORECASE,
        ),
        re.compile(r"\d[\d,]*\s*(?:万|億|千)?\s*円"),
    ),
    CountUnit(
        "countries",
        re.compile(r"何か国|何カ国|何ヶ国|\bhow many countries\b", re.IGNORECASE),
        re.compile(r"\d+\s*(?:か国|カ国|ヶ国|箇国|の国)"),
    ),
)


def count_unmet(
    question: str,
    outcome: SearchOutcome,
    depth: int = 1,
    count_units: Sequence[CountUnit] = COUNT_UNITS,
    asks: re.Pattern[str] = ASKS_COUNT,
) -> bool:
    """True when the question asks for a quantity and no top passage states one (in the unit
    the question asks for, when it asks for people, money or countries)."""
    question = _folded(question)
    if not asks.search(question):
        return False
    # A count in the unit asked for; any number when the question names no unit.
    states = [u.states for u in count_units if u.asks.search(question)] or [_ANY_NUMBER]
    for text in _evidence(outcome, depth):
        text = _NOT_A_COUNT.sub(" ", text)
        if any(pattern.search(text) for pattern in states):
            return False
    return True


# Years a text names: Western (2023, FY2023) or Japanese era (令和5年, 平成31年度, 令和元年).
_WESTERN_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_ERA_YEAR = re.compile(r"(令和|平成|昭和)(\d{1,2}|元)年")
_ERA_START = {"令和": 2018, "平成": 1988, "昭和": 1925}  # the year before the era's first


def years(text: str) -> set[int]:
    """The calendar years ``text`` names, era years converted (令和5年 → 2023)."""
    text = _folded(text)
    found = {int(m.group(1)) for m in _WESTERN_YEAR.finditer(text)}
    for m in _ERA_YEAR.finditer(text):
        found.add(_ERA_START[m.group(1)] + (1 if m.group(2) == "元" else int(m.group(2))))
    return found


def year_unmet(question: str, outcome: SearchOutcome) -> bool:
    """True when the question names a year and the best measure names none of its years."""
    wanted = years(question)
    if not wanted or not outcome.results:
        return False
    return not wanted & years(_best_measure_text(outcome))


@dataclass(frozen=True)
class AnswerKind:
    """Something other than a count that a question can ask for (a date, an age …), and what a
    passage must contain to state it: a pattern, or a SudachiPy proper noun (名詞-固有名詞) of
    the class ``names`` (地名, 人名), of subtype ``name_subtype`` (国) when given."""

    name: str
    asks: re.Pattern[str]
    states: re.Pattern[str] | None = None
    names: str = ""
    name_subtype: str = ""

    def stated_in(self, text: str, tokenizer: Morphemes) -> bool:
        """Whether ``text`` states an answer of this kind."""
        if self.names:
            return _states_a_name(text, tokenizer, self.names, self.name_subtype)
        return self.states is not None and bool(self.states.search(text))


# "when" asks for a date as a question word (sentence-initial, "and when", "since when"), not
# as a conjunction ("do I have to tell them when I move?").
_WHEN = (
    r"^\s*(?:and |so |but )?when\b|[,;:.?!]\s*(?:and |but )?when\b|"
    r"\b(?:and|from|since|until|till|by) when\b|\bwhat (?:date|year|month|day)\b|\bhow soon\b"
)
_DURATION_UNITS = r"年間|か月|ヶ月|カ月|箇月|日間|日以内|週間|時間|年以内"
ANSWER_KINDS: tuple[AnswerKind, ...] = (
    AnswerKind(
        "a date",
        re.compile(
            rf"いつ|(?<!最長)(?<!最大)何年(?!間|まで|くらい|ぐらい|ほど|程度|かか)|何月|"
            rf"何日(?!間|くらい|ぐらい|ほど|程度|かか)|{_WHEN}",
            re.IGNORECASE,
        ),
        re.compile(r"(?:令和|平成|昭和)\s*(?:\d+|元)\s*年|(?<!\d)(?:19|20)\d\d(?!\d)|\d{1,2}\s*月"),
    ),
    AnswerKind(
        "a time of day",
        re.compile(
            r"何時(?!間)|\b(?:opening|business|office) hours\b|\bwhat time\b", re.IGNORECASE
        ),
        re.compile(r"\d{1,2}\s*時(?!間)|\d{1,2}:\d\d|午前|午後"),
    ),
    AnswerKind(
        "days of the week",
        re.compile(
            r"何曜日?|\b(?:what|which) days?(?: of the week)?\b(?! (?:ago|later|after|before))|"
            r"\bon weekends?\b|\bweekdays?\b|土日|週末",
            re.IGNORECASE,
        ),
        re.compile(r"曜日?|平日|土日|週末|休日|祝日|年中無休"),
    ),
    AnswerKind(
        "an age",
        re.compile(
            r"何歳|\bhow old\b|\bat what age\b|\bwhat(?:'s| is| was| are)? (?:the )?(?:\w+ ){0,3}age\b",
            re.IGNORECASE,
        ),
        re.compile(r"\d+\s*歳"),
    ),
    AnswerKind(
        "a length of time",
        re.compile(
            r"最長何年|最大何年|何年まで|何年間|何時間|何か月|何ヶ月|何カ月|何日間|何週間|"
            r"何(?:年|日|週間?|か月)(?:くらい|ぐらい|ほど|程度)?(?:で|が|は)?かか|"
            r"どのくらいの期間|どのくらい(?:時間|日数|期間)?が?かか|\bhow long\b|"
            r"\bhow many (?:days|weeks|months|years)\b(?! ago)",
            re.IGNORECASE,
        ),
        # a number of units, or a period from one date to another (令和2年9月から令和5年6月まで)
        re.compile(
            rf"\d+\s*(?:{_DURATION_UNITS})|"
            r"(?:\d+\s*[年月日]|(?<!\d)(?:19|20)\d\d)\s*から[^。]{0,40}?(?:\d+\s*[年月日]|"
            r"(?<!\d)(?:19|20)\d\d)\s*まで"
        ),
    ),
    AnswerKind(
        "a rate",
        re.compile(
            r"(?<![効能])率|何%|何パーセント|何割|\bwhat (?:percentage|share|proportion|rate)\b|"
            r"\b\w+ rate\b",
            re.IGNORECASE,
        ),
        re.compile(r"\d+(?:\.\d+)?\s*(?:%|パーセント|割)"),
    ),
    AnswerKind(
        "languages by name",
        re.compile(r"\b(?:what|which) languages?\b|何語|どの言語|どんな言語", re.IGNORECASE),
        # a named language, or how many (１００か国語以上 answers "which languages" in part)
        re.compile(
            r"(?:英|中国|韓国|朝鮮|ベトナム|フィリピン|タガログ|ネパール|インドネシア|タイ|"
            r"ポルトガル|スペイン|ミャンマー|クメール|モンゴル|シンハラ|ウルドゥー|ベンガル|"
            r"ヒンディー|フランス|ドイツ|ロシア|アラビア|ペルシャ|ウクライナ|トルコ)語|"
            r"\d+\s*(?:か国語|カ国語|ヶ国語|言語)"
        ),
    ),
    AnswerKind(
        "countries by name",
        re.compile(
            r"\b(?:which|what) (?:countr(?:y|ies)|nations?|nationalities)\b|どの国|どこの国|国はどこ",
            re.IGNORECASE,
        ),
        names="地名",
        name_subtype="国",
    ),
    AnswerKind(
        "places by name",
        re.compile(
            r"\b(?:which|what) (?:cities|city|airports?|prefectures?|ports?|towns?|regions?|"
            r"municipalities|stations?)\b|"
            r"どの(?:空港|都市|県|港|町|市|駅|自治体|地域)|どこの(?:空港|都市|県|港|市|町|自治体|地域)|"
            r"(?:空港|都市|県|港|駅|自治体)はどこ|"
            r"\bwhere (?:is|are) (?:the )?(?:\w+ ){0,6}(?:located|based)\b|"
            r"\bwhere (?:\w+ ){0,2}(?:is|are|was|were|will) (?:\w+ ){0,6}held\b|"
            r"\bwhat(?:'s| is) the (?:\w+ )?address\b|所在地|住所は|どこにある",
            re.IGNORECASE,
        ),
        names="地名",
    ),
    AnswerKind(
        "a test level",
        # a level of a language or a test, not "what level of government"
        re.compile(
            r"何級|何点|(?:日本語|語学|試験|テスト)[^。？?]{0,12}(?:レベル|級|点数?)は|"
            r"\b(?:japanese|language|test|exam|jlpt|proficiency) (?:\w+ )?(?:level|grade|score)\b|"
            r"\bwhat (?:level|grade|score) (?:of|in|on) (?:the )?(?:japanese|language|test|exam|jlpt)\b",
            re.IGNORECASE,
        ),
        re.compile(r"(?<![A-Za-z])N[1-5](?!\d)|\d+\s*級|[ABC][12]レベル|\d+\s*点"),
    ),
    AnswerKind(
        "brands by name",
        re.compile(
            r"\b(?:which|what) (?:\w+ ){0,2}brands?\b|どの(?:カード)?ブランド|カード会社",
            re.IGNORECASE,
        ),
        re.compile(
            r"VISA|Visa|Master ?[Cc]ard|マスターカード|JCB|American Express|アメリカン・?エキスプレス|"
            r"AMEX|Diners|ダイナース|UnionPay|銀聯|PayPay|Suica"
        ),
    ),
    AnswerKind(
        "a penalty",
        re.compile(
            r"\b(?:penalt(?:y|ies)|punish(?:ed|ment|ments)?|sanctions?|fined|fines?)\b|"
            r"罰則|罰金|罰せられ|処罰|ペナルティ",
            re.IGNORECASE,
        ),
        # a penalty, or the orders and revocations the report's measures name
        re.compile(r"罰|命令|取消|取り消|処分|停止"),
    ),
    AnswerKind(
        "requirements",
        # what it takes to become, join or qualify for something
        re.compile(
            r"\bwho (?:is|are) eligible\b|\beligibility (?:requirements|criteria|conditions)\b|"
            r"\b(?:requirements?|criteria|conditions|qualifications) (?:to|for) (?:become|becoming|"
            r"join|joining|qualify|qualifying|register|registering)\b|"
            r"\bwhat (?:does|do|must|should) (?:a |an |the )?(?:\w+ ){0,3}(?:have|need) to do to "
            r"(?:become|join|qualify|register)\b|"
            r"(?:なる|入る|参加する|加入する|登録する|認められる|受ける)ための(?:条件|要件|基準)",
            re.IGNORECASE,
        ),
        re.compile(r"要件|条件|基準"),
    ),
    AnswerKind(
        "documents",
        re.compile(
            r"\b(?:which|what) (?:\w+ )?(?:documents|papers|paperwork|certificates)\b|"
            r"(?:どんな|どの|何の)(?:書類|証明書)|(?:必要な|提出する)(?:書類|証明書)(?:は|って)",
            re.IGNORECASE,
        ),
        re.compile(r"書類|証明書|申請書|届出書|住民票|旅券|パスポート"),
    ),
    AnswerKind(
        "a person's name",
        re.compile(
            r"\bwho(?:'s| is| was| are| were)? (?:the )?(?:\w+ ){0,2}(?:head|chief|director|minister|"
            r"commissioner|leader|president|chair(?:man|person)?)\b|"
            r"\bwho (?:chaired|chairs|led|leads|headed|heads)\b|"
            r"(?:長官|大臣|局長|所長|センター長|代表|会長|委員長|座長|トップ)(?:は|って)誰",
            re.IGNORECASE,
        ),
        names="人名",
    ),
)
# The report's own country names no place a question asks for.
_HOME = frozenset({"日本", "我が国", "わが国"})


class Morphemes(Hashable, Protocol):
    """What the place kinds need of a tokenizer (indexer.tokenize.Tokenizer)."""

    def morphemes(self, text: str, mode: Literal["A", "C"] = "A") -> Any: ...


@lru_cache(maxsize=64)
def _states_a_name(text: str, tokenizer: Morphemes, names: str, subtype: str) -> bool:
    """Whether ``text`` holds a proper noun of class ``names`` (and ``subtype``), not Japan;
    cached, as the same measures come back for many questions (measure 7 takes ~5 ms)."""
    for m in tokenizer.morphemes(text, "A"):  # A: 成田|空港, not one 成田空港
        pos = m.part_of_speech()
        if (
            pos[1] == "固有名詞"
            and pos[2] == names
            and (not subtype or pos[3] == subtype)
            and m.surface() not in _HOME
        ):
            return True
    return False


def kinds_unmet(
    question: str,
    outcome: SearchOutcome,
    tokenizer: Morphemes,
    kinds: Sequence[AnswerKind] = ANSWER_KINDS,
) -> tuple[str, ...]:
    """The kinds of answer the question asks for that the best measure states none of ("a
    date", "an age" …); empty when it asks for none, or they are all stated."""
    question = _folded(question)
    asked = [kind for kind in kinds if kind.asks.search(question)]
    if not asked or not outcome.results:
        return ()
    evidence = _best_measure_text(outcome)
    return tuple(kind.name for kind in asked if not kind.stated_in(evidence, tokenizer))

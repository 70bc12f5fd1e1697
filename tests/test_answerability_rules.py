"""The answerability rules of issue 10 (second to fourth rounds), on hand-made features and evidence
(fast tier)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from service.answer_kinds import count_unmet, kinds_unmet, year_unmet, years
from service.answerability import THRESHOLDS, Features, decide, phrased_as_question

ANSWERABLE = Features(
    language="en",
    dense_top=0.85,
    second_top=0.45,
    lexical_top=5.0,
    absent_concepts=(),
    status_only=False,
    known_words=("skill", "worker", "field"),
    unknown_words=("deli",),
    coverage=0.5,
)


def test_the_reference_features_are_answered() -> None:
    assert decide(ANSWERABLE).answerable


def test_english_question_whose_best_measure_states_none_of_its_words_is_refused() -> None:
    decision = decide(replace(ANSWERABLE, coverage=0.0))
    assert not decision.answerable
    assert "states none" in decision.reason
    # One content word is not enough evidence either way; Japanese questions have rule (3).
    one_word = replace(ANSWERABLE, coverage=0.0, known_words=("visa",), unknown_words=())
    assert decide(one_word).answerable
    assert decide(replace(ANSWERABLE, coverage=0.0, language="ja")).answerable


def test_the_use_floor_refuses_far_questions_unless_they_name_a_domain_term() -> None:
    floor = THRESHOLDS["en"].second_min
    assert 0 < floor < 0.3
    far = replace(ANSWERABLE, second_top=floor - 0.01)
    assert not decide(far).answerable
    assert "second encoder" in decide(far).reason
    # "hokanteki hogo", "eijuu kyoka": romanised glossary terms, on topic by construction.
    assert decide(replace(far, domain_terms=True)).answerable
    assert decide(replace(ANSWERABLE, second_top=floor + 0.01)).answerable
    assert decide(replace(far, second_top=None)).answerable  # no second encoder loaded
    assert THRESHOLDS["ja"].second_min == 0  # the floor is English only


def test_the_new_rules_come_before_the_keyword_shortcut() -> None:
    """ "Good morning": two words the lexicon knows, so a 'keyword query', yet nothing of it
    is in the best measure."""
    greeting = replace(ANSWERABLE, known_words=("good", "morning"), unknown_words=())
    assert greeting.keyword_query
    assert decide(greeting).answerable
    assert not decide(replace(greeting, coverage=0.0)).answerable
    assert not decide(replace(greeting, second_top=0.1)).answerable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How many people applied in 2023?", {2023}),
        ("What changed in FY2024 and 2020?", {2024, 2020}),
        ("令和5年度末までに", {2023}),
        ("令和元年に創設", {2019}),
        ("平成31年4月", {2019}),
        ("２０２４年３月", {2024}),  # full-width digits
        ("12345 people, 1800 yen, 20240", set()),  # not years
        ("特定技能2号の分野は?", set()),
    ],
)
def test_years_reads_western_and_era_years(text: str, expected: set[int]) -> None:
    assert years(text) == expected


def _outcome(text: str) -> SimpleNamespace:
    measure = SimpleNamespace(target=text, explanation="", notes="")
    return SimpleNamespace(results=(SimpleNamespace(measure=measure),))


def test_a_year_the_best_measure_never_names_is_unmet() -> None:
    measure = "令和5年12月1日から運用を開始した。"
    assert not year_unmet("When did it start in 2023?", _outcome(measure))  # type: ignore[arg-type]
    assert year_unmet("How many were granted in 2024?", _outcome(measure))  # type: ignore[arg-type]
    assert not year_unmet("When did it start?", _outcome(measure))  # type: ignore[arg-type]
    decision = decide(replace(ANSWERABLE, year_unmet=True))
    assert not decision.answerable and "year" in decision.reason


def test_a_glossary_term_alone_is_not_a_question_without_content_words() -> None:
    """ "hokanteki hogo" is romanised: no English content word the report glosses, but a
    glossary term the query expansion knows."""
    romanised = replace(ANSWERABLE, known_words=(), unknown_words=("hokanteki", "hogo"))
    assert not decide(romanised).answerable
    assert decide(replace(romanised, domain_terms=True)).answerable


def test_a_concept_named_in_passing_does_not_refuse_a_question_about_its_measure() -> None:
    """ "…social insurance, crime prevention and disasters in one place?": the report never
    says 犯罪, but its best measure states nearly every other word of the question."""
    cut = THRESHOLDS["en"].concept_coverage_max
    named = replace(ANSWERABLE, absent_concepts=("crime (犯罪)",), coverage=cut)
    assert decide(named).answerable
    refused = decide(replace(named, coverage=cut - 0.05))
    assert not refused.answerable and "never mentions" in refused.reason
    # Japanese questions have no coverage figure (always 1.0): the rule stays as it was.
    assert not decide(replace(named, language="ja", coverage=1.0)).answerable


def _measure(text: str) -> SimpleNamespace:
    """An outcome whose best measure says ``text``."""
    measure = SimpleNamespace(target=text, explanation="", notes="")
    return SimpleNamespace(results=(SimpleNamespace(measure=measure, passages=()),))


def _passages(*texts: str) -> SimpleNamespace:
    passages = tuple(SimpleNamespace(passage=SimpleNamespace(text=t)) for t in texts)
    return SimpleNamespace(results=(SimpleNamespace(passages=passages),))


@pytest.mark.parametrize(
    ("question", "evidence", "unmet"),
    [
        # people are counted in 人 / 名
        ("How many people were resettled?", "累計305名の第三国定住難民を受け入れた。", False),
        ("How many people were resettled?", "5つの理由を挙げた。", True),
        ("認定された人は何人?", "3人1組で審査を行う。", False),
        ("認定された人は何人?", "令和5年12月1日から運用を開始した。", True),
        # money in 円; the report's only 円 is in 円滑
        ("What is the fee in yen?", "円滑な審査を行う。手数料は200件分を処理", True),
        ("手数料はいくら?", "手数料は4,000円とする。", False),
        # money asked for without "how much"
        ("What minimum annual income is needed?", "要件を明確化する。", True),
        ("What is the annual budget of the grant?", "交付金は10億円。", False),
        # countries in か国
        ("二国間取決めは何か国と作成した?", "17か国との間で作成した。", False),
        ("How many countries signed?", "2019年に作成した。", True),
        # any other count: any number that is not a date, an ordinal or a category
        ("How many help desks are there?", "令和6年度では259に拡大した。", False),
        ("How many help desks are there?", "令和6年度に拡大した。", True),
        # not count questions: "a set number of", "cut the number of"
        ("Will they guarantee a set number of hours of lessons?", "検討する。", False),
        ("Has the government cut the number of documents?", "省略する。", False),
        ("What is the number of documents?", "省略する。", True),
    ],
)
def test_a_count_question_needs_a_number_in_the_unit_it_asks_for(
    question: str, evidence: str, unmet: bool
) -> None:
    assert count_unmet(question, _passages(evidence)) is unmet  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("question", "evidence", "unmet"),
    [
        # a date: "when" as a question word, いつ, 何年; met by an era or Western year, a month
        ("When did the centre open?", "令和2年7月に開所した。", ()),
        ("When will the new system start?", "導入に向けた検討を行っている。", ("a date",)),
        ("Since when can I apply online?", "2022年3月から可能とした。", ()),
        ("いつから始まるの?", "検討を進めている。", ("a date",)),
        ("What, and when will it start?", "検討中。", ("a date",)),
        # "when" as a conjunction asks for no date
        ("Do I have to tell them when I move?", "検討中。", ()),
        # a time of day, an age, a length of time, a rate
        ("センターは何時から開いてる?", "令和2年7月に開所した。", ("a time of day",)),
        ("What are the opening hours?", "9時から17時まで。", ()),
        ("What is the new upper age limit?", "要件を緩和した。", ("an age",)),
        ("日系四世は何歳まで?", "30歳以下の者。", ()),
        ("How long does a decision take?", "迅速に処理する。", ("a length of time",)),
        ("特定技能1号で最長何年いられる?", "通算で5年間を上限とする。", ()),
        ("難民認定率は?", "認定した。", ("a rate",)),
        ("What is the approval rate?", "認定率は1.2%であった。", ()),
        # days of the week; a length of time asked as "how many days does it take"
        ("センターは何曜日に開いてる?", "平日の9時から開いている。", ()),
        ("Is it open on weekends?", "令和2年7月に開所した。", ("days of the week",)),
        ("審査には何日くらいかかる?", "2022年3月から受け付けている。", ("a length of time",)),
        ("How many days does a decision take?", "14日以内に通知する。", ()),
        ("How long was the help desk open?", "令和2年9月から令和5年6月まで設置した。", ()),
        # a test level, brands by name
        ("What Japanese test level is needed?", "一定の日本語能力を求める。", ("a test level",)),
        ("日本語能力試験の何級が必要?", "日本語能力試験N4相当以上。", ()),
        (
            "Which card brands are accepted?",
            "クレジットカードによる納付を検討する。",
            ("brands by name",),
        ),
        ("What level of Japanese does a yonsei need?", "要件を緩和した。", ("a test level",)),
        # not a test level: "what level of government"
        ("What level of government runs the help desks?", "地方公共団体が設置する。", ()),
        # languages by name (or how many)
        ("What languages does the service cover?", "多言語で対応する。", ("languages by name",)),
        ("ホームページは何語で読める?", "100か国語以上に対応した。", ()),
        # a penalty: a penalty, or an order or revocation, states one
        ("What penalty does a broker face?", "送出機関の情報を共有した。", ("a penalty",)),
        ("監理団体への罰則は?", "許可の取消しや事業停止命令を行う。", ()),
        # requirements to become, join or qualify
        ("登録支援機関になるための要件は?", "登録支援機関の情報を公表した。", ("requirements",)),
        ("Who is eligible to join the program?", "一定の要件を満たす者を対象とする。", ()),
        (
            "What does a company have to do to become a registered support organization?",
            "登録支援機関の情報を公表した。",
            ("requirements",),
        ),
        # documents by name
        ("What documents do I need to apply?", "申請を受け付けている。", ("documents",)),
        ("どんな書類が必要?", "提出書類を簡素化した。", ()),
        # not these kinds: a yes/no question, a "which fields" question, conditions of a size
        ("Has the age requirement been relaxed?", "要件を緩和した。", ()),
        ("書類を省略できる会社の条件は?", "一定の規模の機関は省略できる。", ()),
        ("Which fields were added?", "4分野を追加した。", ()),
    ],
)
def test_a_question_asking_for_a_date_age_or_rate_needs_one_in_the_evidence(
    question: str, evidence: str, unmet: tuple[str, ...]
) -> None:
    assert kinds_unmet(question, _measure(evidence), tokenizer=None) == unmet  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("question", "evidence", "unmet"),
    [
        ("Which countries has Japan signed agreements with?", "ネパール及びタイと作成した。", ()),
        ("Which countries do they come from?", "日本で受け入れている。", ("countries by name",)),
        ("どこの国から来ているの?", "東京で受け入れた。", ("countries by name",)),
        ("Which cities had partner clinics?", "東京、名古屋及び大阪の医療機関。", ()),
        ("At which airports is it tested?", "空港で実証実験を行っている。", ("places by name",)),
        ("実験をやってる空港はどこ?", "成田空港で実施している。", ()),
        ("Where is the support center located?", "新宿区四谷に開所した。", ()),
        ("Where is the support center located?", "センターを開所した。", ("places by name",)),
        ("Where overseas are the exams held?", "国外でも試験を実施している。", ("places by name",)),
        ("Where are the exams held?", "フィリピンなどで試験を実施している。", ()),
        ("最寄り駅はどこ?", "センターを開所した。", ("places by name",)),
        ("最寄り駅はどこ?", "四谷に開所した。", ()),
        ("Who is the current head of the agency?", "長官の佐藤が述べた。", ()),
        ("入管庁の長官は誰?", "出入国在留管理庁は検討を行った。", ("a person's name",)),
        ("Who chaired the roundtable?", "懇談会の提言を受けた。", ("a person's name",)),
        ("懇談会の座長は誰?", "座長の佐藤が取りまとめた。", ()),
        # members may be organisations: not a person's name
        ("Who are the members of the councils?", "関係省庁及び業界団体で構成する。", ()),
        # not these kinds: who does something (an organisation answers), which fields
        ("Who inspects the companies?", "外国人技能実習機構が検査する。", ()),
        ("Which fields were added?", "4分野を追加した。", ()),
    ],
)
def test_a_question_asking_which_countries_places_or_who_needs_a_proper_noun(
    question: str, evidence: str, unmet: tuple[str, ...]
) -> None:
    from indexer.tokenize import Tokenizer

    assert kinds_unmet(question, _measure(evidence), Tokenizer()) == unmet  # type: ignore[arg-type]


def test_an_unmet_answer_kind_refuses_even_a_keyword_query() -> None:
    decision = decide(replace(ANSWERABLE, kinds_unmet=("a date",)))
    assert not decision.answerable
    assert "asks for a date" in decision.reason
    keyword = replace(ANSWERABLE, known_words=("eta",), unknown_words=(), kinds_unmet=("a date",))
    assert keyword.keyword_query and not decide(keyword).answerable
    assert decide(replace(keyword, kinds_unmet=())).answerable


@pytest.mark.parametrize(
    ("question", "language", "asks"),
    [
        ("What is the capital of Mongolia?", "en", True),
        ("  how many languages?", "en", True),
        ("Can I renew online", "en", True),
        ("visa renewal online", "en", False),
        ("Specified Skilled Worker (ii)?", "en", False),
        ("ビザは何日で出る？", "ja", True),
        ("特定技能はどうなった", "ja", True),
        ("特定技能2号の分野は?", "ja", False),
        ("技能実習", "ja", False),
    ],
)
def test_a_question_form_is_an_interrogative_not_a_question_mark(
    question: str, language: str, asks: bool
) -> None:
    assert phrased_as_question(question, language) is asks


def test_few_known_words_asked_as_a_question_are_not_a_keyword_query() -> None:
    keywords = replace(ANSWERABLE, known_words=("capital", "mongolia"), unknown_words=())
    assert keywords.keyword_query
    asked = replace(keywords, question_form=True, dense_top=0.75)
    assert not asked.keyword_query
    assert not decide(asked).answerable  # judged on the dense floor like any question
    assert decide(replace(keywords, dense_top=0.75)).answerable  # bare keywords: shortcut

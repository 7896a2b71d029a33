"""One Korean word for one English term, across the whole Korean edition.

A review found the same English term translated in different ways from lesson to lesson (에포크 and 에폭,
매개변수 and 파라미터, 윈도우 and 창, ...). These tests read every Korean catalog of the course, the lessons'
``solutions/NN_slug/ko.po`` and the package's ``cnnbook/locale/ko/LC_MESSAGES/cnnbook.po``, and fail, naming the
catalog, the entry and the words, where a translation uses a word that is not the course's word for its term.

- ``CORE``: epoch 에포크, parameter 매개변수, hyperparameter 하이퍼파라미터, window 윈도우.
- ``UNIFIED``: the other terms that were unified the same way (fully connected layer 완전 연결 층, network 신경망,
  data set 데이터 세트, object 객체, training 학습, step 스텝, loop 반복문, valid 유효, matrix product 행렬 곱,
  percentage points %p, a value's type 자료형: a learner's trial read "자료형" and "타입" in one self-check; what came back to a check,
  "got", 받은 값: one lesson read "돌려준 것은" and "받은 값은" for it).

Only translations (``msgstr``) are read, never the English. A study note quoted word for word keeps its own words:
Korean between quotes that the English entry holds too (an Errata box quotes a learner's note) is not checked.
창 is "window" only as a word of its own, alone or with one particle (창의 시작 위치, 마지막 창이); inside another
word (팽창 dilation, 밑창, 창의적, 창문) or as a transliterated name (창 천(Qiang Chen)) it is left alone.
A tensor's shape is 형태: ``tests/test_i18n.py`` checks that one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from autograde.i18n import catalog_path, package_catalog_path, read_catalog
from conftest import LESSONS


@dataclass(frozen=True)
class Term:
    english: str
    preferred: str
    variants: re.Pattern[str]     # a match is a word that is not the course's word for the term


_PARTICLE = "이|가|을|를|은|는|과|와|의|에|에서|으로|로|도|만|마다|까지|부터|처럼|보다|들|들이|들을|들의|입니다|이다|이고|이며"
# 창 as a word of its own (before it no syllable, after it at most one particle, then no syllable), not followed
# by another Hangul word and a romanised name in parentheses: "창 천(Qiang Chen)" is a person.
_WINDOW_CHANG = rf"(?<![가-힣])창(?:{_PARTICLE})?(?![가-힣])(?!\s*[가-힣]{{1,3}}\s*\([A-Z][a-z]+ [A-Z][a-z]+\))"

# an exception's class name (ValueError, CheckFailed, KeyboardInterrupt) or a field, then 오류 or 에러
_ERROR_NAME_THEN_ERROR = re.compile(
    r"(?:\b[A-Z][A-Za-z]*(?:Error|Exception|Warning|Interrupt|Exit|Failed|Iteration)|\{[^{}]+\})[`'\"’”)]*\s*(?:오류|에러)")

CORE = [
    Term("epoch", "에포크", re.compile("에폭")),
    Term("parameter", "매개변수", re.compile(r"(?<!하이퍼)(?<!하이퍼 )파라미터|매개 변수")),
    Term("hyperparameter", "하이퍼파라미터", re.compile(r"하이퍼 +파라미터|초매개 ?변수")),
    Term("window", "윈도우", re.compile(_WINDOW_CHANG + "|윈도(?!우)")),
]
UNIFIED = [
    Term("fully connected layer", "완전 연결 층", re.compile(r"완전 ?연결 ?계층|완전연결")),
    Term("network", "신경망", re.compile("네트워크")),
    Term("data set", "데이터 세트", re.compile("데이터셋")),
    Term("object (in an image)", "객체", re.compile("물체")),
    Term("training, to train", "학습", re.compile("훈련")),
    Term("step (of training, of a window)", "스텝", re.compile("걸음")),
    Term("loop", "반복문", re.compile("루프")),
    Term("valid (cross-correlation, convolution, mode)", "유효", re.compile(r"valid (?:교차 상관|합성곱|모드)")),
    Term("matrix product", "행렬 곱", re.compile("행렬곱")),
    # a difference of two accuracies: lesson 08 read "+3.9%p" under one figure and "(+4.6점)" two cells later (점 is
    # an exercise's points, whole numbers)
    Term("percentage points", "%p", re.compile(r"\.\d+f\}점|[+-]\d+\.\d+점")),
    # 타입 as a word of its own (오타입니다 is 오타 + 입니다, 프로토타입 another word)
    Term("type (of a value)", "자료형", re.compile(r"(?<![가-힣])타입|데이터 ?타입|데이터형")),
    # what a learner's function gave a check: a trial read "돌려준 것은 항목 3개짜리 list" in one failure and "받은 값은
    # list 자료형의 [0, 3, 4]" in the next (the verb, "None을 돌려주었습니다", and "이 함수가 돌려준 것" in prose stay)
    Term("what came back (a check's \"got\")", "받은 값", re.compile(r"(?:돌려준|받은) 것(?:은|이)(?![가-힣])")),
    # an error's class name is no word to follow with 오류 (error) again: a Korean trial read "ValueError 오류가
    # 발생했습니다". A field there ({kind}, {error[0]}) holds such a name in every message that writes one.
    Term("an error's class name (then 예외, not 오류 again)", "ValueError 예외", _ERROR_NAME_THEN_ERROR),
]

_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')


def _checked_text(english: str, korean: str) -> str:
    """The translation without the Korean it quotes from the English entry (a study note's own words)."""
    def blank(match: re.Match[str]) -> str:
        inner = match.group(1) or match.group(2)
        return " " * len(match.group(0)) if re.search("[가-힣]", inner) and inner in english else match.group(0)
    return _QUOTED.sub(blank, korean)


def misuses(english: str, korean: str, terms: list[Term]) -> list[str]:
    """One line per word of ``korean`` that is not the course's word for its term: the term, the word, where."""
    text = _checked_text(english, korean)
    found = []
    for term in terms:
        for match in term.variants.finditer(text):
            start, end = match.span()
            around = korean[max(0, start - 20):end + 20].replace("\n", " ")
            found.append(f"{term.english} is {term.preferred}, not {match.group(0)!r}: ...{around}...")
    return found


CATALOGS = [(lesson.slug, catalog_path(lesson, "ko")) for lesson in LESSONS if catalog_path(lesson, "ko").is_file()]
CATALOGS.append(("cnnbook", package_catalog_path("ko")))


def _violations(path, terms: list[Term]) -> list[str]:
    found = []
    for message in read_catalog(path, "ko"):
        if not message.id or not message.string:
            continue
        english = "\n".join(message.id) if isinstance(message.id, (list, tuple)) else message.id
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        where = f"[{message.context}] " if message.context else ""
        first = english.strip().splitlines()[0][:70]
        for korean in strings:
            found += [f"{path.parent.name if path.name == 'ko.po' else path.name} {where}{first!r}: {line}"
                      for line in misuses(english, str(korean), terms)]
    return found


@pytest.mark.parametrize("name, path", CATALOGS, ids=[name for name, _ in CATALOGS])
def test_epoch_parameter_and_window_are_one_word_each(name, path):
    bad = _violations(path, CORE)
    assert not bad, f"{name}: {len(bad)} translation(s) use another word for a term:\n" + "\n".join(bad)


@pytest.mark.parametrize("name, path", CATALOGS, ids=[name for name, _ in CATALOGS])
def test_the_other_unified_terms_are_one_word_each(name, path):
    bad = _violations(path, UNIFIED)
    assert not bad, f"{name}: {len(bad)} translation(s) use another word for a term:\n" + "\n".join(bad)


@pytest.mark.parametrize("korean", [
    "에폭마다의 평균 손실", "학습 가능한 파라미터 개수", "매개 변수", "하이퍼 파라미터", "초매개변수",
    "창의 시작 위치", "마지막 창이 입력 밖으로", "삐져나오는 창은 세지 않습니다", "창 {n}개를 도는", "작은 창 |",
    "슬라이딩 윈도가 아닙니다",
])
def test_a_variant_is_found(korean):
    assert misuses("", korean, CORE), korean


@pytest.mark.parametrize("korean", [
    "에포크마다", "매개변수", "하이퍼파라미터를 많이 두는", "윈도우의 시작 위치", "팽창이 1, 2, 4인 필터", "밑창",
    "창의적인 답", "창의성", "창문", "창 천(Qiang Chen), 수이청 옌(Shuicheng Yan)", "출력 형태",
])
def test_other_words_with_the_same_letters_are_not_variants(korean):
    assert not misuses("", korean, CORE), korean


def test_a_study_note_quoted_word_for_word_keeps_its_words():
    english = 'A note reads "VGG-16은 많은 하이퍼 파라미터를 가지고 있는 대신에\n> 네트워크를 사용해서" (...)'
    quoted = '한 노트에는 "VGG-16은 많은 하이퍼 파라미터를 가지고 있는 대신에\n> 네트워크를 사용해서"라고 적혀 있습니다.'
    assert not misuses(english, quoted, CORE + UNIFIED)
    # the same words, not a quotation of the English entry, are checked
    found = misuses(english, "많은 하이퍼 파라미터를 가지고 있는 네트워크", CORE + UNIFIED)
    assert [line.split(",")[0] for line in found] == ["hyperparameter is 하이퍼파라미터", "network is 신경망"], found


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.slug for lesson in LESSONS])
def test_the_english_lessons_korean_words_are_the_same(lesson):
    """The English notebooks hold Korean too (each glossary's 한국어 column): the same words as the Korean edition.
    Korean quoted in them (a study note's own words) is left as it is."""
    import nbformat

    nb = nbformat.read(lesson.source, as_version=4)
    bad = [f"cell {index}: {line}" for index, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
           for line in misuses(cell.source, cell.source, CORE + UNIFIED)]
    assert not bad, f"{lesson.slug}: {len(bad)} Korean word(s) of the English notebook differ:\n" + "\n".join(bad)


@pytest.mark.parametrize("korean, found", [
    ("받은 값의 타입은 float입니다", True), ("(기대한 타입: int, 받은 타입: tuple)", True), ("int 타입의 값", True),
    ("데이터 타입", True), ("받은 값의 자료형은 float입니다", False), ("슬라이드의 83과 127은 오타입니다.", False),
    ("프로토타입", False),
])
def test_type_is_jaryohyeong(korean, found):
    assert bool(misuses("", korean, UNIFIED)) == found, korean


@pytest.mark.parametrize("korean, found", [
    ("값 3개가 와야 하는데, 돌려준 것은 항목 2개짜리 tuple입니다.", True), ("기대했지만, 돌려준 것이 None입니다", True),
    ("기대했지만, 받은 값은 항목 2개짜리 tuple입니다.", False), ("그다음부터는 이 함수가 돌려준 것.", False),
    ("None을 돌려주었습니다", False), ("값 2개가 와야 하는데 받은 것은 (1, 2)입니다.", True),
])
def test_what_came_back_is_badeun_gap(korean, found):
    assert bool(misuses("", korean, UNIFIED)) == found, korean


@pytest.mark.parametrize("korean, found", [
    ("{call}에서 {kind} 오류가 발생했습니다: {message}", True), ("{error[0]} 오류가 발생했습니다", True),
    ("ValueError 오류가 났습니다", True), ("`TypeError` 에러", True), ("KeyboardInterrupt 오류", True),
    ("{call}에서 {kind} 예외가 발생했습니다: {message}", False), ("오류: RuntimeError: element 0", False),
    ("ValueError가 났습니다", False), ("{kind} 예외로 멈췄습니다", False), ("셀이 오류로 멈췄습니다", False),
])
def test_an_errors_class_name_is_not_followed_by_error_again(korean, found):
    assert bool(misuses("", korean, UNIFIED)) == found, korean

"""Answers from a learner's trial of lessons 06, 08 and 10 (Korean edition first), as the self-check tells them
(``python -m autograde check``: the grader's wall, the hidden tests, the learner's language).

- A correct answer written differently gets every point (a test that rejects it is unfair).
- A wrong answer is told its slip in words, in the learner's language, not as a library's traceback.

check and grade are one engine (``runner.grade_submission``; tests/test_one_engine.py holds them to the same verdict),
so every case but one is graded in ONE batch (``python -m autograde grade``, run in this process: the grader's
start, a worker's zygote and the judge cost seconds of CPU each run) and its result is put into the self-check's
words by check's own ``report_of`` and ``format_report``, in the case's language: a Korean case is the Korean
edition's notebook, whose results speak Korean. One case runs ``check`` itself (``--lang ko`` on an English notebook), so the self-check's own
run and output are tested too.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
from conftest import autograde_cli, solved, solved_korean, write

from autograde.check import format_report, report_of
from autograde.lessons import all_lessons

pytestmark = pytest.mark.slow          # the cases run whole lessons through the grader (seconds each)

LESSONS = {lesson.slug[:2]: lesson for lesson in all_lessons()}

# LeNet-5 with in-place ReLUs (torchvision writes them so): the visible test pushes a batch through the layers one
# at a time, and under the grader an in-place layer "changed what it was given" (the loop's own tensor): 0/6 with
# "your function changed what it was given", naming no function, for a network that is right.
LENET_INPLACE = '''class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(start_dim=1),
            nn.Linear(400, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True),
            nn.Linear(84, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))
'''


def run_check(lesson, path, lang):
    return subprocess.run([sys.executable, "-m", "autograde", "check", lesson.number, str(path), "--lang", lang],
                          capture_output=True, text=True, timeout=900, env={**os.environ})


@dataclass
class Said:
    """What the self-check says of one case: its output and exit status (as ``check`` prints and returns them)."""
    stdout: str
    returncode: int
    stderr: str = ""


# Filled below, next to each case's answers: student name -> (lesson number, language, the answers by grade_id).
CASES: dict[str, tuple[str, str, dict[str, str]]] = {}


@pytest.fixture(scope="module")
def said(tmp_path_factory):
    """Every case of CASES graded ONCE, in one batch; student name -> what the self-check says of it."""
    from cnnbook.i18n import set_language

    subs, out = tmp_path_factory.mktemp("learner-answers"), tmp_path_factory.mktemp("learner-answers-graded")
    paths = {}
    for student, (number, lang, answers) in CASES.items():
        lesson = LESSONS[number]
        nb = solved_korean(lesson, answers) if lang == "ko" else solved(lesson, answers)
        paths[student] = write(nb, subs / student / lesson.slug / f"{lesson.slug}.ipynb")
    # In this process (the batch's process is not what these tests are about), with one worker: one zygote importing
    # torch instead of two (measured: 36 s of CPU for the batch, against 43 s with two workers, and no longer in wall
    # time on two cores).
    proc = autograde_cli(["grade", str(subs), "--out", str(out), "--workers", "1"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = {}
    for student, (number, lang, _answers) in CASES.items():
        lesson = LESSONS[number]
        result = json.loads((out / "results" / student / f"{lesson.slug}.json").read_text(encoding="utf-8"))
        assert result.get("language", "en") == lang, (student, result.get("language"))     # the edition it graded
        set_language(lang)                            # as ``check --lang`` chooses the self-check's own words
        try:
            report = report_of(lesson, paths[student], result)
            found[student] = Said(format_report(report),
                                  0 if report.score == report.max_score and not report.problem else 1)
        finally:
            set_language(None)
    return found


CASES.update({f"inplace_{lang}": ("06", lang, {"LeNet5": LENET_INPLACE}) for lang in ("en", "ko")})


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_lenet_with_in_place_relus_gets_every_point(said, lang):
    proc = said[f"inplace_{lang}"]
    assert proc.returncode == 0, proc.stdout
    assert re.search(r"\] +test_LeNet5 +6/6", proc.stdout), proc.stdout


# Lesson 08, three slips in one notebook (each costs only its own exercise):
# - replace_head puts the new Linear inside a Sequential (its class is then "Sequential");
# - freeze_all_but_head freezes the head too: the test's own backward pass used to fail with torch's "element 0 of
#   tensors does not require grad", and the slip's name ("nothing is trainable") was never reached;
# - fine_tune_optimizer swaps the learning rates.
# In Korean the names of these checks were English ("...: the trainable parameters afterwards"): they were
# f"{what}: ..." names, which the catalog cannot hold.
TRANSFER_SLIPS = {
    "replace_head": '''def replace_head(model, n_classes):
    model.head = nn.Sequential(nn.Linear(model.head.in_features, n_classes))
    return model
''',
    "freeze_all_but_head": '''def freeze_all_but_head(model):
    model.requires_grad_(False)
    return sum(p.numel() for p in model.head.parameters())
''',
    "fine_tune_optimizer": '''def fine_tune_optimizer(model, blocks, head_lr, body_lr):
    model.requires_grad_(False)
    model.head.requires_grad_(True)
    body = []
    for name in blocks:
        getattr(model, name).requires_grad_(True)
        body += list(getattr(model, name).parameters())
    return torch.optim.Adam([{"params": model.head.parameters(), "lr": body_lr}, {"params": body, "lr": head_lr}])
''',
}


CASES["transfer_en"] = ("08", "en", TRANSFER_SLIPS)


@pytest.mark.parametrize("lang, words, never", [
    ("en", ["[FAIL]  test_replace_head", "the class of model.head",
            "[FAIL]  test_freeze_all_but_head", "nothing is trainable: the head's parameters must get requires_grad",
            "[FAIL]  test_fine_tune_optimizer", "the learning rates are swapped"],
     ["does not require grad"]),
    ("ko", ["replace_head(헤드가 nn.Linear(64, 5)인 신경망, 5) 뒤 model.head의 클래스",
            "freeze_all_but_head(FashionCNN 형태의 신경망) 호출 뒤에 학습되는 매개변수",
            "학습되는 것이 없음: 헤드의 매개변수를 다시 requires_grad = True로 둘 것",
            'fine_tune_optimizer(FashionCNN 형태의 신경망, ["block3"], head_lr=3e-3, body_lr=3e-4)의 그룹들 (lr, 매개변수)',
            "학습률이 뒤바뀌었음"],
     ["does not require grad", "the class of model.head", "the trainable parameters afterwards",
      "the groups as (lr, parameters)"]),
])
def test_transfer_slips_are_named_in_the_learners_language(said, tmp_path, lang, words, never):
    lesson = LESSONS["08"]
    if lang == "en":
        proc = said["transfer_en"]
    else:       # the one case through ``check`` itself: its own run, its --lang, its output and exit status
        path = write(solved(lesson, TRANSFER_SLIPS), tmp_path / f"{lesson.slug}.ipynb")
        proc = run_check(lesson, path, lang)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for gid in ("test_load_pretrained", "test_mirror_and_crop", "test_rotate_and_shift"):
        assert re.search(rf"\] +{gid} +[34]/[34]", proc.stdout), proc.stdout       # the other exercises keep theirs
    for text in words:
        assert text in proc.stdout, proc.stdout
    for text in never:
        assert text not in proc.stdout, proc.stdout


# Lesson 06, LeNet5 with a slip the visible test names: in Korean the slip used to stay English, since it was kept
# in a list ("Softmax 층이 있음: softmax before CrossEntropyLoss: the loss applies ...") or built with a conditional
# ("... The features give 16 x 4 x 4 = 256 numbers, not 400: did you forget padding=2 ...").
LENET_SOFTMAX = LENET_INPLACE.replace("nn.Linear(84, 10),", "nn.Linear(84, 10), nn.Softmax(dim=1),")
LENET_NO_PADDING = LENET_INPLACE.replace("kernel_size=5, padding=2", "kernel_size=5")
# A Korean learner's trial: padding=2 kept, the flatten size counted without it. The self-check said "<your Linear:
# Linear(in_features=256, ...)>에는 형태 (2, 400)의 입력을 넣을 수 없음 (코드에서 RuntimeError 예외가 발생했습니다: ...
# (linear.py의 134번째 줄: ...)))": English, brackets three deep, torch's line, no slip and no meaning.
LENET_FLATTEN_256 = LENET_INPLACE.replace("nn.Linear(400, 120)", "nn.Linear(16 * 4 * 4, 120)")
LENET_SECOND_LINEAR = LENET_INPLACE.replace("nn.Linear(120, 84)", "nn.Linear(100, 84)")


CASES.update({"softmax_ko": ("06", "ko", {"LeNet5": LENET_SOFTMAX}),
              "no_padding_ko": ("06", "ko", {"LeNet5": LENET_NO_PADDING}),
              "flatten_256_ko": ("06", "ko", {"LeNet5": LENET_FLATTEN_256}),
              "second_linear_ko": ("06", "ko", {"LeNet5": LENET_SECOND_LINEAR})})


@pytest.mark.parametrize("student, words, never", [
    ("softmax_ko", ["Softmax 층이 있습니다. CrossEntropyLoss 앞에 소프트맥스가 있으면 안 됩니다."], ["the loss applies"]),
    ("no_padding_ko", ["에는 형태 (2, 256)의 입력을 넣을 수 없습니다", "첫 합성곱의 padding=2를 빠뜨리지 않았나요?"],
     ["cannot take an input", "did you forget padding=2"]),
    ("flatten_256_ko", ["흔한 실수로 보입니다: ", "16 x 5 x 5 = 400"], ["<your", "linear.py", "cannot take an input"]),
    ("second_linear_ko", ["Linear(100, 84)", "형태 (2, 120)", "RuntimeError", "보통 이런 뜻입니다: "],
     ["<your", "linear.py", "each layer must take"]),
], ids=["softmax", "no-padding", "flatten-256", "second-linear"])
def test_lenet_slips_are_named_in_korean(said, student, words, never):
    proc = said[student]
    assert re.search(r"\[실패\] +test_LeNet5 +0/6", proc.stdout), proc.stdout
    for text in words:
        assert text in proc.stdout, proc.stdout
    for text in never:
        assert text not in proc.stdout, proc.stdout


# Lesson 10: a learner who skipped box_iou (still the stub) and wrote nms with it. The self-check once said of nms "not
# answered yet: the answer cell still raises NotImplementedError" and marked it TO DO, though nms was answered. nms's
# tests now run it with the course's box_iou in place of the learner's (h71: calling your own box_iou is allowed, and
# a box_iou slip costs exercise 2 only): nms gets its points, box_iou alone is TO DO.
NMS_WITH_BOX_IOU = '''def nms(boxes, scores, iou_threshold):
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(i)
        order = [j for j in order if box_iou([boxes[i]], [boxes[j]])[0, 0] <= iou_threshold]
    return np.array(keep, dtype=int)
'''


def nms_case(lang):
    """Lesson 10 answered with NMS_WITH_BOX_IOU, and box_iou left as released (the stub)."""
    return "10", lang, {"nms": NMS_WITH_BOX_IOU, "box_iou": submission_stub(LESSONS["10"], "box_iou")}


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_an_answer_that_calls_an_unanswered_exercise_gets_its_own_points(said, lang):
    proc = said[f"nms_{lang}"]
    lines = proc.stdout.splitlines()
    box_iou_line = next(line for line in lines if " test_box_iou " in line)
    nms_line = next(line for line in lines if " test_nms " in line)
    assert ("[TO DO]" if lang == "en" else "[시작 전]") in box_iou_line, proc.stdout
    assert re.search(r"\] +test_nms +4/4", nms_line), proc.stdout
    assert proc.stdout.count("not answered yet") + proc.stdout.count("아직 답하지 않았습니다") == 1, proc.stdout


def submission_stub(lesson, grade_id):
    """The released (student) source of an answer cell: the stub that raises NotImplementedError."""
    import nbformat

    released = nbformat.read(lesson.student_version, as_version=4)
    return next(cell.source for cell in released.cells
                if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


CASES.update({f"nms_{lang}": nms_case(lang) for lang in ("en", "ko")})


# Lesson 06, a LeNet5 whose forward centres the batch in place (x -= x.mean()): the test's batch changed, and the
# failure said "your function changed what it was given" of a network, naming nothing the learner wrote.
LENET_CHANGES_ITS_INPUT = LENET_INPLACE.replace(
    "return self.classifier(self.features(x))", "x -= x.mean()\n        return self.classifier(self.features(x))")


CASES.update({f"changes_input_{lang}": ("06", lang, {"LeNet5": LENET_CHANGES_ITS_INPUT}) for lang in ("en", "ko")})


@pytest.mark.parametrize("lang, words", [("en", "the module LeNet5 changed what it was given"),
                                         ("ko", "모듈 LeNet5이(가) 바꾼 입력")])
def test_a_network_that_changes_its_input_is_named(said, lang, words):
    proc = said[f"changes_input_{lang}"]
    assert words in proc.stdout and "your function" not in proc.stdout, proc.stdout


# Lesson 07, an InceptionModule that concatenates on the batch axis (dim=0): the test's own @learner_side helper
# raised through it, and the self-check said "inception_3a_on_meta() raised RuntimeError", a name the learner never
# wrote (a Korean trial). The error is the learner's code's, at their line; the test's line is quoted apart.
def _inception_on_the_batch_axis():
    from conftest import answer_sources

    source = answer_sources(LESSONS["07"])["InceptionModule"]
    assert source.count("dim=1)") == 1
    return source.replace("dim=1)", "dim=0)")


CASES["inception_batch_axis_ko"] = ("07", "ko", {"InceptionModule": _inception_on_the_batch_axis()})


def test_a_tests_own_helper_is_not_named_as_the_call_that_raised(said):
    proc = said["inception_batch_axis_ko"]
    lines = proc.stdout.splitlines()
    at = next(k for k, line in enumerate(lines) if " test_InceptionModule " in line)
    first = lines[at + 1]
    assert "RuntimeError" in first and "dim=0)" in first, proc.stdout
    assert "inception_3a_on_meta()에서" not in first and "inception_3a_on_meta" not in first, proc.stdout


# Lesson 04: conv_macs raises for a padding it does not expect. The test calls it through its own wrapper
# (`conv_macs_checked = course_backed("conv_macs", ...)`: the course's layer_shapes in place of the learner's), and
# the self-check said "conv_macs_checked(28, 28, 192, f=5, c_out=32, p=2) raised ValueError", a name the learner
# never wrote (an instructor's trial). A name the test binds itself is the test's line, not the learner's call.
CONV_MACS_RAISES = '''def conv_macs(h, w, c_in, f, c_out, p=0, s=1):
    shapes = layer_shapes(h, w, c_in, f, c_out, p, s)
    if p > 1:
        raise ValueError("padding above 1 is not handled")
    return shapes["n_H"] * shapes["n_W"] * c_out * f * f * c_in
'''
CASES["conv_macs_raises_en"] = ("04", "en", {"conv_macs": CONV_MACS_RAISES})


def test_an_error_through_the_tests_own_wrapper_is_not_said_as_the_wrappers_call(said):
    out = said["conv_macs_raises_en"].stdout
    block = out.split("test_conv_macs", 1)[1].split("[PASS]", 1)[0]
    assert "conv_macs_checked(28, 28, 192, f=5, c_out=32, p=2) raised" not in block, out
    assert "your code raised ValueError: padding above 1 is not handled (at line 4:" in block, out
    assert "Line " in block and "of the test cell: got = conv_macs_checked(28, 28, 192" in block, out
    assert re.search(r"\] +test_layer_shapes +3/3", out) and re.search(r"\] +test_conv_macs +0/4", out), out

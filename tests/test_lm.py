"""Word n-gram LMs: Kneser-Ney ARPA building (normalized distributions), the ARPA reader's
backoff, round trips through files, and clear errors for malformed files."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from edge_asr.lm import build_arpa, build_from_text_file, write_arpa
from runtime.lm import BOS, EOS, UNK, ArpaLM, LMError

ROOT = Path(__file__).resolve().parents[1]
WORDS = "the a cat dog sat on mat ran to house big small red san francisco".split()


def _sentences(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS[:-2]) for _ in range(rng.randint(1, 8))]
        if rng.random() < 0.3:  # "francisco" is frequent but only ever after "san"
            words[rng.randrange(len(words)) :] = ["san", "francisco"]
        out.append(" ".join(words))
    return out


def _histories(sentences: list[str], order: int) -> set[tuple[str, ...]]:
    hists = set()
    for s in sentences:
        toks = [BOS, *s.split(), EOS]
        for i in range(1, len(toks)):
            for n in range(order):  # every context length up to order - 1
                if i - n >= 0:
                    hists.add(tuple(toks[i - n : i]))
    return hists


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_seen_history_has_a_normalized_distribution(order):
    sentences = _sentences()
    lm = ArpaLM.from_text(build_arpa(sentences, order))
    vocab = [w for (w,) in lm.ngrams[0] if w != BOS]
    assert EOS in vocab and UNK in vocab
    for hist in _histories(sentences, order):
        total = sum(math.exp(lm.score(w, hist)) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-6), hist


def test_kneser_ney_uses_continuation_counts():
    """'francisco' is about as frequent as 'cat' but follows only 'san': its unigram (backoff)
    probability is much lower, while after 'san' it is the likely word."""
    sentences = _sentences()
    counts = {w: sum(s.split().count(w) for s in sentences) for w in ("cat", "francisco")}
    assert counts["francisco"] > 0.5 * counts["cat"]
    lm = ArpaLM.from_text(build_arpa(sentences, 3))
    assert lm.score("francisco", ()) < lm.score("cat", ()) - 1.0
    assert lm.score("francisco", ("san",)) > math.log(0.9)
    assert lm.score("francisco", ("big",)) < lm.score("cat", ("big",))


def test_sentence_scores_prefer_seen_word_order():
    lm = ArpaLM.from_text(build_arpa(["the cat sat on the mat"] * 5 + _sentences(50), 3))
    assert lm.sentence_score("the cat sat on the mat") > lm.sentence_score("mat the on sat cat the")
    assert lm.sentence_score(["the", "cat"]) == pytest.approx(lm.sentence_score("the cat"))


def test_unknown_words_score_as_unk():
    lm = ArpaLM.from_text(build_arpa(_sentences(), 2))
    assert lm.score("zyzzyva", ("the",)) == pytest.approx(lm.score(UNK, ("the",)))
    assert lm.score("cat", ("zyzzyva",)) == pytest.approx(lm.score("cat", (UNK,)))
    assert math.isfinite(lm.score("zyzzyva", ("qqq", "rrr")))


HAND = """\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-1.0\t</s>
-99\t<s>\t-0.5
-0.5\tcat\t-0.25
-0.7\tdog

\\2-grams:
-0.2\t<s> cat
-0.1\tcat </s>

\\end\\
"""


def test_reader_follows_standard_backoff():
    lm = ArpaLM.from_text(HAND)
    ln10 = math.log(10)
    assert lm.order == 2
    assert lm.score("cat", ["<s>"]) == pytest.approx(-0.2 * ln10)  # seen bigram
    assert lm.score("dog", ["<s>"]) == pytest.approx((-0.5 - 0.7) * ln10)  # bow(<s>) + p(dog)
    assert lm.score("dog", ["dog"]) == pytest.approx(-0.7 * ln10)  # no backoff weight: 0
    assert lm.score("dog", ["x", "y", "cat"]) == pytest.approx((-0.25 - 0.7) * ln10)
    # no <unk> in this model: out-of-vocabulary words get the floor
    assert lm.score("zebra", ["cat"]) == lm.unk_floor
    assert lm.sentence_score("cat") == pytest.approx((-0.2 - 0.1) * ln10)


def test_file_round_trip(tmp_path):
    sentences = _sentences(80)
    path = tmp_path / "lm" / "model.arpa"
    write_arpa(path, sentences, order=3)
    assert not [p for p in path.parent.iterdir() if p.name != "model.arpa"]  # no temp left
    text = build_arpa(sentences, 3)
    assert path.read_text() == text
    from_file = ArpaLM.load(path)
    from_text = ArpaLM.from_text(text)
    assert from_file.ngrams == from_text.ngrams
    for s in sentences[:20]:
        assert from_file.sentence_score(s) == pytest.approx(from_text.sentence_score(s))
    gz = tmp_path / "model.arpa.gz"
    import gzip

    gz.write_bytes(gzip.compress(text.encode()))
    assert ArpaLM.load(gz).ngrams == from_text.ngrams


def test_build_from_text_file_normalizes(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The CAT sat!\n\n  It's 42 cats.\n", encoding="utf-8")
    lm = ArpaLM.from_text(build_from_text_file(corpus, order=2))
    assert {"the", "cat", "sat", "it's", "forty", "two", "cats"} <= lm.vocab
    assert "CAT" not in lm.vocab and "sat!" not in lm.vocab


@pytest.mark.parametrize(
    "content, match",
    [
        ("hello world\n", "no \\\\data\\\\ section"),
        (HAND.replace("ngram 2=2", "ngram 2=3"), "2-grams: has 2 entries"),
        (HAND.replace("ngram 1=4", "ngram 1=four"), "line 2: bad count line"),
        (HAND.replace("-0.7\tdog", "-0.7"), "line 9: a 1-gram line needs"),
        (HAND.replace("-0.1\tcat </s>", "oops\tcat </s>"), "line 13: bad number"),
        (HAND.replace("-0.1\tcat </s>", "0.5\tcat </s>"), "line 13: bad log10 probability"),
        (HAND.replace("\\end\\\n", ""), "truncated ARPA file"),
        (HAND.replace("\\2-grams:", "\\3-grams:"), "line 11: unexpected section"),
    ],
)
def test_malformed_files_are_clear_errors(tmp_path, content, match):
    path = tmp_path / "bad.arpa"
    path.write_text(content)
    with pytest.raises(LMError, match=match) as info:
        ArpaLM.load(path)
    assert "bad.arpa" in str(info.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(LMError, match="no such ARPA file"):
        ArpaLM.load(tmp_path / "nope.arpa")
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(LMError, match=r"model\.bin: not a text ARPA file"):
        ArpaLM.load(binary)
    with pytest.raises(LMError, match="no such text file"):
        build_from_text_file(tmp_path / "nope.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("!!!\n\n")
    with pytest.raises(LMError, match="no sentences"):
        build_from_text_file(empty)


def test_builder_rejects_bad_input():
    with pytest.raises(LMError, match="order"):
        build_arpa(["a b"], order=0)
    with pytest.raises(LMError, match="no sentences"):
        build_arpa(["", "  "])
    with pytest.raises(LMError, match="<s>"):
        build_arpa(["a <s> b"])


def _edge_asr(*argv: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "edge_asr", *argv]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_lm_build_command_writes_a_readable_model_without_tensorflow(tmp_path):
    from edge_asr.cli import main

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(_sentences(40)) + "\n", encoding="utf-8")
    out = tmp_path / "lm" / "model.arpa"
    assert main(["lm", "build", str(corpus), "--order", "2", "--out", str(out)]) == 0
    assert ArpaLM.load(out).order == 2
    code = (
        "from edge_asr.cli import main\n"
        f"main(['lm', 'build', {str(corpus)!r}, '--out', {str(tmp_path / 'b.arpa')!r}])\n"
        "import sys; print([m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')])"
    )
    probe = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("where", ["dir", "under_file"])
def test_lm_build_bad_out_fails_at_once_in_one_line(tmp_path, where):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c\n", encoding="utf-8")
    (tmp_path / "file").write_text("x")
    out = {"dir": tmp_path, "under_file": tmp_path / "file" / "lm.arpa"}[where]
    proc = _edge_asr("lm", "build", str(corpus), "--out", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-asr lm: error: "), proc.stderr
    assert ("is a directory" if where == "dir" else "is a file, not a directory") in lines[0]


def test_lm_build_rejects_order_zero(tmp_path):
    proc = _edge_asr("lm", "build", str(tmp_path / "c.txt"), "--order", "0", "--out", "x.arpa")
    assert proc.returncode == 2 and "must be >= 1" in proc.stderr

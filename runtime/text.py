"""The seed project's 29-symbol alphabet and the label normalization rule.

Index map: apostrophe = 0, space = 1, a..z = 2..27, CTC blank = 28 (always last).

Normalization rule (``normalize_text``), applied to every label before training or scoring:
1. Unicode is folded to ASCII (accents dropped: "café" -> "cafe"); lowercase.
2. Curly apostrophes become "'"; "&" -> " and ", "%" -> " percent ", "+" -> " plus ",
   "@" -> " at ".
3. Whole numbers up to
   999,999 are spelled as words ("42" -> "forty two"), longer digit runs digit by digit.
4. Hyphens, slashes and underscores separate words; every other character outside the
   alphabet (punctuation, symbols) is dropped.
5. Runs of spaces collapse to one; leading/trailing spaces are removed; apostrophes not
   inside a word are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

SYMBOLS: tuple[str, ...] = ("'", " ", *"abcdefghijklmnopqrstuvwxyz")
BLANK: int = len(SYMBOLS)  # 28
NUM_CLASSES: int = len(SYMBOLS) + 1  # 29
_INDEX = {c: i for i, c in enumerate(SYMBOLS)}

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen \
fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORDY = {"&": " and ", "%": " percent ", "+": " plus ", "@": " at ", "=": " equals "}


def _below_thousand(n: int) -> str:
    words = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(_ONES[n])
    elif n or not words:
        words.append(_ONES[n])
    return " ".join(words)


def number_to_words(n: int) -> str:
    """Spell a non-negative integer below one million in English words."""
    if n >= 1000:
        rest = n % 1000
        head = f"{_below_thousand(n // 1000)} thousand"
        return head if rest == 0 else f"{head} {_below_thousand(rest)}"
    return _below_thousand(n)


def _spell_digits(match: re.Match[str]) -> str:
    digits = match.group(0)
    if len(digits) <= 6 and not (len(digits) > 1 and digits[0] == "0"):
        return f" {number_to_words(int(digits))} "
    return " " + " ".join(_ONES[int(d)] for d in digits) + " "


def normalize_text(text: str) -> str:
    """Map free text onto the 28 label characters following the module's documented rule."""
    text = re.sub("[\u2018\u2019\u02bc`]", "'", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.lower()
    for sym, word in _WORDY.items():
        text = text.replace(sym, word)
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000 -> 1000
    text = re.sub(r"\d+", _spell_digits, text)
    text = re.sub(r"[-/_\s]+", " ", text)
    text = re.sub(r"[^a-z' ]", "", text)
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", "", text)
    return re.sub(r" +", " ", text).strip()


def text_to_int(text: str) -> list[int]:
    """Label indices of ``text`` after normalization (unknown characters are dropped)."""
    return [_INDEX[c] for c in normalize_text(text)]


def int_to_text(ints: Iterable[int]) -> str:
    """Characters for label indices; blanks (28) are skipped. Tidy like every transcript: single
    spaces, none at either end (so Keras references and device text compare equal)."""
    return " ".join("".join(SYMBOLS[int(i)] for i in ints if int(i) != BLANK).split())

"""Everyday English sentences from a small grammar and a vocabulary of ~9,000 words.

The synthetic corpus needs text that covers ordinary vocabulary and sentence shapes (statements;
wh-, yes/no, tag and indirect questions; commands and requests to people and to a voice
assistant; greetings, thanks, apologies, short dialog turns; subordinate and relative clauses;
weather, directions, shopping, cooking, travel, work, school and health), and numbers the way
people say them (cardinals to millions, years, decimals, percentages, money, phone numbers,
times, dates, ordinals, measurements), not a few templates a model could memorize. Verbs carry
frames that say which noun classes they take ("eat" takes food, "drive" a vehicle) and templates
name noun classes the same way, so most sentences are plausible. The vocabulary and templates
live in ``words/*.txt`` (grouped by class or shape) so they can be read and extended without code.

Deterministic: the same seed gives the same sentences in the same order (``random.Random`` only,
no set iteration). Output is normalized (``runtime.text.normalize_text``): lowercase a-z, ' and
single spaces. ``iter_sentences`` never repeats a sentence, so consecutive slices of one stream
can serve as train/valid/test without overlap.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from runtime.errors import EdgeASRError
from runtime.text import normalize_text, number_to_words

WORDS_DIR = Path(__file__).with_name("words")
MIN_WORDS, MAX_WORDS = 4, 20
SHAPES = ("statement", "question", "command", "conversation")  # sentence kinds callers count


class SentenceError(EdgeASRError):
    """A word list or template is malformed, or a number cannot be spoken."""


DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
MONTHS = (
    "january february march april may june july august september october november december"
).split()
_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()


# ----------------------------------------------------------------------------- vocabulary
@dataclass(frozen=True)
class Noun:
    singular: str
    plural: str | None  # None for mass nouns and bare nouns
    mass: bool = False
    bare: bool = False  # used without a determiner: languages, sports


@dataclass(frozen=True)
class Slot:
    prep: str  # "" for a direct object
    classes: tuple[str, ...]


@dataclass(frozen=True)
class Verb:
    base: str
    third: str
    past: str
    participle: str
    ing: str
    frames: tuple[tuple[Slot, ...], ...]
    subjects: tuple[str, ...]


@dataclass
class Vocabulary:
    nouns: dict[str, list[Noun]]
    noun_index: dict[str, Noun]
    adjectives: dict[str, list[str]]
    verbs: list[Verb]
    adverbs: dict[str, list[str]]
    names: dict[str, list[str]]
    places: dict[str, list[str]]
    noun_class: dict[str, str] = field(default_factory=dict)  # singular -> first class
    words: list[str] = field(default_factory=list)  # every distinct word, sorted
    templates: dict[str, list[str]] = field(default_factory=dict)  # shape -> templates

    def literal(self, word: str) -> tuple[Noun, str]:
        """The noun ``word`` (a verb frame may name one noun instead of a class) and its class."""
        if word in self.noun_index:
            return self.noun_index[word], self.noun_class[word]
        return Noun(word, _plural(word)), "thing"


def _sections(name: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for raw in (WORDS_DIR / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("## "):
            current = line[3:].strip()
            sections.setdefault(current, [])
        elif line and not line.startswith("#"):
            if current is None:
                raise SentenceError(f"{name}: entry {line!r} before any '## section'")
            sections[current].append(line)
    return sections


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in tuple("aeiou"):
        return word[:-1] + "ies"
    return word + "s"


def _parse_noun(entry: str) -> Noun:
    if entry.endswith("*"):
        return Noun(entry[:-1], None, mass=True)
    if entry.endswith("!"):
        return Noun(entry[:-1], None, bare=True)
    if "|" in entry:
        singular, plural = entry.split("|", 1)
        return Noun(singular, plural)
    words = entry.split()
    return Noun(entry, " ".join([*words[:-1], _plural(words[-1])]))


def _is_cvc(word: str) -> bool:
    """One-syllable consonant-vowel-consonant words double their last letter (stop, stopped)."""
    vowels = "aeiou"
    groups = sum(
        1 for i, c in enumerate(word) if c in vowels and (i == 0 or word[i - 1] not in vowels)
    )
    return (
        groups == 1
        and len(word) >= 3
        and word[-1] not in vowels + "wxy"
        and word[-2] in vowels
        and word[-3] not in vowels
    )


def _regular_forms(word: str) -> tuple[str, str, str]:
    """(third person, past, -ing) of a regular verb."""
    if word.endswith(("s", "x", "z", "ch", "sh", "o")):
        third = word + "es"
    elif word.endswith("y") and word[-2] not in "aeiou":
        third = word[:-1] + "ies"
    else:
        third = word + "s"
    if word.endswith("e"):
        past = word + "d"
    elif word.endswith("y") and word[-2] not in "aeiou":
        past = word[:-1] + "ied"
    elif _is_cvc(word):
        past = word + word[-1] + "ed"
    else:
        past = word + "ed"
    if word.endswith("ie"):
        ing = word[:-2] + "ying"
    elif word.endswith(("ee", "ye", "oe")) or word == "be":
        ing = word + "ing"
    elif word.endswith("e"):
        ing = word[:-1] + "ing"
    elif _is_cvc(word):
        ing = word + word[-1] + "ing"
    else:
        ing = word + "ing"
    return third, past, ing


def _parse_verb(line: str) -> Verb:
    parts = [p.strip() for p in line.split("|")]
    forms = [f.strip() for f in parts[0].split(",")]
    base = forms[0]
    head, _, rest = base.partition(" ")
    tail = f" {rest}" if rest else ""
    third, past, ing = (w + tail for w in _regular_forms(head))
    participle = past
    given = [*forms[1:], "-", "-", "-", "-"][:4]
    past = given[0] if given[0] != "-" else past
    participle = given[1] if given[1] != "-" else past
    ing = given[2] if given[2] != "-" else ing
    third = given[3] if given[3] != "-" else third
    frames = []
    for frame in parts[1].split(";"):
        frame = frame.strip()
        if frame == "intr":
            frames.append(())
            continue
        slots = []
        for slot in frame.split(">"):
            prep, _, classes = slot.strip().rpartition(":")
            slots.append(Slot(prep, tuple(c.strip() for c in classes.split(","))))
        frames.append(tuple(slots))
    subjects = tuple(s.strip() for s in parts[2].split(",")) if len(parts) > 2 else ("person",)
    return Verb(base, third, past, participle, ing, tuple(frames), subjects)


@functools.lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The word lists under ``words/``, parsed once per process."""
    nouns = {
        cls: [_parse_noun(e) for e in dict.fromkeys(entries)]
        for cls, entries in _sections("nouns.txt").items()
    }
    noun_index: dict[str, Noun] = {}
    noun_class: dict[str, str] = {}
    for cls, entries in nouns.items():
        for noun in entries:
            noun_index.setdefault(noun.singular, noun)
            noun_class.setdefault(noun.singular, cls)
    verb_lines = [
        line.strip()
        for line in (WORDS_DIR / "verbs.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    verbs: dict[str, Verb] = {}
    for line in verb_lines:  # a verb listed twice gets the frames and subjects of both lines
        verb = _parse_verb(line)
        if verb.base in verbs:
            old = verbs[verb.base]
            frames = tuple(dict.fromkeys(old.frames + verb.frames))
            subjects = tuple(dict.fromkeys(old.subjects + verb.subjects))
            verb = Verb(old.base, old.third, old.past, old.participle, old.ing, frames, subjects)
        verbs[verb.base] = verb
    names = {k: list(dict.fromkeys(v)) for k, v in _sections("names.txt").items()}
    names["first"] = list(dict.fromkeys(names.get("female", []) + names.get("male", [])))
    templates: dict[str, list[str]] = {shape: [] for shape in SHAPES}
    for head, entries in _sections("templates.txt").items():
        shape = head.split()[0]
        if shape not in templates:
            raise SentenceError(f"templates.txt: section {head!r} is not one of {SHAPES}")
        templates[shape] += entries
        templates[head.replace(" ", "_")] = entries  # "conversation_dialog"
    vocab = Vocabulary(
        nouns=nouns,
        noun_index=noun_index,
        adjectives={k: list(dict.fromkeys(v)) for k, v in _sections("adjectives.txt").items()},
        verbs=list(verbs.values()),
        adverbs={k: list(dict.fromkeys(v)) for k, v in _sections("adverbs.txt").items()},
        names=names,
        places={k: list(dict.fromkeys(v)) for k, v in _sections("places.txt").items()},
        noun_class=noun_class,
        templates=templates,
    )
    words: dict[str, None] = {}
    for entries in templates.values():  # the literal words of templates
        for template in entries:
            words.update(dict.fromkeys(re.sub(r"\{[^}]*\}|[()\[\]|]", " ", template).split()))
    for group in (vocab.adjectives, vocab.adverbs, vocab.names, vocab.places):
        for entries in group.values():
            for entry in entries:
                words.update(dict.fromkeys(entry.split()))
    for noun in noun_index.values():
        words.update(dict.fromkeys(noun.singular.split() + (noun.plural or "").split()))
    for verb in vocab.verbs:
        for form in (verb.base, verb.third, verb.past, verb.participle, verb.ing):
            words.update(dict.fromkeys(form.split()))
    vocab.words = sorted(words)
    return vocab


# ----------------------------------------------------------------------------- numbers, time
_ONES = "zero one two three four five six seven eight nine".split()
_CURRENCIES = {  # name: (unit, units, small unit, small units)
    "dollars": ("dollar", "dollars", "cent", "cents"),
    "euros": ("euro", "euros", "cent", "cents"),
    "pounds": ("pound", "pounds", "penny", "pence"),
}


def cardinal(n: int, *, british: bool = False) -> str:
    """0 <= n < 10**9 in words: 2500000 "two million five hundred thousand". ``british`` puts
    "and" before the last tens and ones after a hundred or thousand ("one hundred and five")."""
    if not isinstance(n, int) or not 0 <= n < 10**9:
        raise SentenceError(f"cannot speak {n!r}: cardinals run from 0 to 999,999,999")
    millions, rest = divmod(n, 1_000_000)
    thousands, ones = divmod(rest, 1000)
    words = []
    if millions:
        words.append(f"{number_to_words(millions)} million")
    if thousands:
        words.append(f"{number_to_words(thousands)} thousand")
    if ones or not words:
        hundreds, tail = divmod(ones, 100)
        if hundreds:
            words.append(f"{number_to_words(hundreds)} hundred")
        if tail or not words:
            if british and words:
                words.append("and")
            words.append(number_to_words(tail))
    return " ".join(words)


def ordinal(n: int) -> str:
    """1 -> "first", 23 -> "twenty third", 100 -> "one hundredth" (1 <= n < 10**9)."""
    if n < 1:
        raise SentenceError(f"cannot speak ordinal {n!r}: ordinals start at 1")
    if n <= 20:
        return _ORDINALS[n - 1]
    *head, last = cardinal(n).split()
    ones = {number_to_words(i): word for i, word in enumerate(_ORDINALS, 1)}
    if last in ones:
        last = ones[last]
    elif last.endswith("y"):  # twenty -> twentieth
        last = last[:-1] + "ieth"
    else:  # hundred, thousand, million
        last += "th"
    return " ".join([*head, last])


def year_words(year: int, formal: bool = False) -> str:
    """Years the way people say them: 1984 "nineteen eighty four", 2005 "two thousand and five",
    2024 "twenty twenty four" (``formal``: "two thousand and twenty four")."""
    if not 1000 <= year <= 2999:
        raise SentenceError(f"cannot speak year {year!r}: years run from 1000 to 2999")
    if 2000 <= year < 2010 or (formal and 2000 <= year < 2100):
        return cardinal(year, british=True)
    head, tail = divmod(year, 100)
    if tail == 0:
        return f"{number_to_words(head)} hundred"
    tail_words = f"oh {number_to_words(tail)}" if tail < 10 else number_to_words(tail)
    return f"{number_to_words(head)} {tail_words}"


def decimal_words(text: str, *, drop_zero: bool = False) -> str:
    """A decimal written as digits ("3.5", "0.25") spoken: "three point five", "zero point two
    five" (``drop_zero``: "point two five"); digits after the point are read one by one."""
    whole, dot, frac = text.partition(".")
    if not (whole.isdigit() and frac.isdigit() and dot and whole.isascii() and frac.isascii()):
        raise SentenceError(f"cannot speak decimal {text!r}: write it like 3.5 or 0.25")
    head = "" if drop_zero and int(whole) == 0 else cardinal(int(whole))
    return " ".join([head, "point", *(_ONES[int(d)] for d in frac)]).strip()


def money_words(cents: int, currency: str = "dollars") -> str:
    """An amount in cents spoken in full: 525 "five dollars and twenty five cents", 100 "one
    dollar", 5 "five cents"; ``currency`` is dollars, euros or pounds (pence)."""
    if currency not in _CURRENCIES:
        raise SentenceError(f"unknown currency {currency!r}: use one of {sorted(_CURRENCIES)}")
    if not isinstance(cents, int) or cents < 0:
        raise SentenceError(f"cannot speak an amount of {cents!r} cents")
    unit, units, small, smalls = _CURRENCIES[currency]
    whole, part = divmod(cents, 100)
    words = []
    if whole or not part:
        words.append(f"{cardinal(whole)} {unit if whole == 1 else units}")
    if part:
        words.append(f"{cardinal(part)} {small if part == 1 else smalls}")
    return " and ".join(words)


def phone_words(digits: str, *, zero: str = "oh") -> str:
    """A phone number read digit by digit: "5550123" "five five five oh one two three"."""
    if not digits.isdigit() or not digits.isascii():
        raise SentenceError(f"cannot speak phone number {digits!r}: digits only")
    return " ".join(zero if d == "0" else _ONES[int(d)] for d in digits)


def _article(word: str) -> str:
    w = word.lower()
    if w.startswith(("hour", "honest", "honor", "heir")):
        return "an"
    if w.startswith(("uni", "use", "usu", "uk", "eu", "one", "once", "ewe")):
        return "a"
    return "an" if w[:1] in tuple("aeiou") else "a"


# ----------------------------------------------------------------------------- grammar
# Subject "persons": "i", "s" (he/she/it/singular), "p" (you/we/they/plural).
_BE = {"i": "am", "s": "is", "p": "are"}
_BE_NEG = {"i": "am not", "s": "isn't", "p": "aren't"}
_WAS = {"i": "was", "s": "was", "p": "were"}
_TENSES = (
    ("present", 20),
    ("past", 30),
    ("future", 10),
    ("going_to", 5),
    ("progressive", 10),
    ("past_progressive", 4),
    ("perfect", 8),
    ("modal", 13),
)
_MODALS = (
    ("can", "can't"),
    ("could", "couldn't"),
    ("should", "shouldn't"),
    ("must", "mustn't"),
    ("might", "might not"),
    ("would", "wouldn't"),
)
_LOCATION_PREPS = ("in", "at", "near", "behind", "next to", "outside", "inside", "opposite")
_NOT_JOBS = frozenset(
    """friend stranger tourist visitor guest customer passenger child boy girl man woman baby
    kid teenager adult person mother father brother sister son daughter aunt uncle cousin
    grandmother grandfather grandson granddaughter husband wife parent niece nephew king queen
    prince princess neighbor classmate roommate partner owner tenant patient twin teammate
    boyfriend girlfriend fiance bride groom toddler stepfather stepmother""".split()
)
_RELATIVES = ("friend", "brother", "sister", "cousin", "colleague", "neighbor", "boss", "son")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_CHOICE = re.compile(r"\(([^()]*)\)")
_SLOT = re.compile(r"\{([a-z_.]+)\}")
# Fixed shapes: "{slot}" (see _Grammar.slot), "(a|b)" one of, "[...]" half the time.
_FIXED = (
    "there is {thing_np} {location}",
    "there are {n} {thing.pl} {location}",
    "i have {n} {animal.pl} [and {small_n} {animal.pl}]",
    "{thing_np} costs {n} {currency}",
    "it costs {n} (dollars|euros) and {small_n} cents",
    "{name} is {age} years old",
    "{name} was born in {city} in {year}",
    "my phone number is {phone}",
    "the room number is {room_no}",
    "the (train|bus|ferry|plane|flight) to {city} (leaves|arrives|departs) at {clock}",
    "the {event} (starts|begins|ends|finishes) at {clock} [on {day}]",
    "(we have|there is|i have) {event.a} on {date}",
    "my name is {name} [and i live in {city}]",
    "this is my {relative} {name}",
    "{name} lives in {city} [with {his} {person}]",
    "{name} comes from {country} and speaks {language}",
    "{name} works as {job} [in {city}]",
    "it takes {small_n} minutes to (walk|drive|cycle) to the {place}",
    "we waited for {small_n} (minutes|hours) [at the {place}]",
    "it is {clock} [and we are late]",
    "what time is it in {city}",
    "it (is|was|will be) {adj_weather} [in {city}] {now_time}",
    "it (rained|snowed) (all day|all night|for hours) {past_time}",
    "it's going to (rain|snow) {future_time}",
    "the weather (was|is|will be) {adj_weather} (today|yesterday|tomorrow|this week|in {city})",
    "i would like (a cup|a glass|a bottle|a jug) of {drink} [please]",
    "(can i have|could we have|i'd like) {food_np} [please]",
    "the {readable} has {n} (pages|chapters|lines|words)",
    "{place_np} is open from {hour} to {hour}",
    "the score was {digit} to {digit} [at half time]",
    "{thing_np} (is|was|looks|seems) (very|really|too|quite|) {adj_thing}",
    "{subject} (looked|seemed|felt|became|was) (very|really|a bit||) {adj_person} [{past_time}]",
    "the {place} was {adj_place} when we arrived",
    "thank you for the ({food}|{thing}|{event}) [{name}]",
    "(happy birthday|good morning|good night|good luck|see you soon|welcome back) {name}",
    "how much (is|does) the {thing} [cost]",
    "where is the nearest {place}",
    "how long does it take to get to {city}",
    "we moved to {city} in {year}",
    "the shop closes at {clock} on {day}s",
    "{name} scored {digit} goals in the last {event}",
    "i need {n} {food.pl} and {food_np} for the {event}",
    "my birthday is on {date}",
    "the meeting was moved to {day} at {clock}",
)
# Verbs of state sound wrong in the progressive ("is needing"): they fall back to simple tenses.
_STATIVE = frozenset(
    "need want like love hate prefer understand believe trust remember know weigh own".split()
)
_OBJECT_PRONOUNS = ("me", "you", "him", "her", "us", "them")
# Pronoun + auxiliary -> contraction, used for a share of clauses ("i'm", "we'll", "she's").
_CONTRACT = {
    ("i", "am"): "i'm",
    ("you", "are"): "you're",
    ("we", "are"): "we're",
    ("they", "are"): "they're",
    ("he", "is"): "he's",
    ("she", "is"): "she's",
    ("it", "is"): "it's",
    ("i", "have"): "i've",
    ("you", "have"): "you've",
    ("we", "have"): "we've",
    ("they", "have"): "they've",
    ("he", "has"): "he's",
    ("she", "has"): "she's",
    ("i", "would"): "i'd",
    ("you", "would"): "you'd",
    ("we", "would"): "we'd",
    ("they", "would"): "they'd",
    **{(p, "will"): f"{p}'ll" for p in ("i", "you", "he", "she", "we", "they", "it")},
}
# The auxiliary of a tag question, keyed by the clause's first auxiliary ("" for simple tenses).
_TAG = {
    "am": "aren't",
    "is": "isn't",
    "are": "aren't",
    "was": "wasn't",
    "were": "weren't",
    "has": "hasn't",
    "have": "haven't",
    "will": "won't",
    "can": "can't",
    "could": "couldn't",
    "should": "shouldn't",
    "would": "wouldn't",
}
_TAG |= {neg: pos for pos, neg in _TAG.items() if pos != "am"}
_TAG |= {"didn't": "did", "doesn't": "does", "don't": "do"}
_FILLERS = (
    ("well", 3),
    ("okay so", 2),
    ("so", 2),
    ("okay", 1.5),
    ("actually", 1.5),
    ("anyway", 1),
    ("oh", 1),
    ("you know", 0.7),
    ("i mean", 0.7),
    ("by the way", 0.7),
    ("to be honest", 0.6),
    ("right", 0.6),
    ("listen", 0.4),
    ("hey", 0.6),
    ("honestly", 0.5),
    ("alright", 0.5),
)
_CONTACTS = ("mom", "dad", "mum", "grandma", "grandpa", "my wife", "my husband", "my sister")
_CONTACTS += ("my brother", "my boss", "the office", "home", "the doctor", "my mother")
_WEIGHTS = ((("grams", 100, 900, 50), 3), (("kilos", 2, 20, 1), 2), (("pounds", 2, 300, 1), 2))
_WEIGHTS += ((("ounces", 2, 16, 1), 1), (("kilograms", 2, 90, 1), 1))
_LENGTHS = ((("meters", 2, 900, 1), 3), (("feet", 2, 900, 1), 2), (("centimeters", 2, 99, 1), 1))
_LENGTHS += ((("inches", 2, 36, 1), 1), (("kilometers", 2, 40, 1), 1))
_DISTANCES = (
    (("miles", 2, 500, 1), 3),
    (("kilometers", 2, 900, 1), 3),
    (("meters", 100, 900, 50), 2),
)
_VOLUMES = ((("milliliters", 100, 900, 50), 2), (("liters", 2, 10, 1), 2), (("cups", 2, 4, 1), 2))
_VOLUMES += ((("tablespoons", 2, 6, 1), 1), (("teaspoons", 2, 4, 1), 1), (("gallons", 2, 20, 1), 1))


class _Grammar:
    def __init__(self, rng: random.Random, vocab: Vocabulary) -> None:
        self.rng = rng
        self.v = vocab
        self.pronouns = ("he", "his", "him")  # agree with the last name picked
        self.verbs_for = {
            cls: [verb for verb in vocab.verbs if cls in verb.subjects]
            for cls in ("person", "animal")
        }
        self.transitive = [
            (verb, frame)
            for verb in vocab.verbs
            for frame in verb.frames
            if frame and not frame[0].prep and "person" in verb.subjects
        ]

    # --- small helpers
    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def weighted(self, pairs):
        total = sum(w for _, w in pairs)
        r = self.rng.uniform(0, total)
        for item, weight in pairs:
            r -= weight
            if r <= 0:
                return item
        return pairs[-1][0]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def number(self, low: int = 2, high: int = 20, big: float = 0.15) -> str:
        if self.chance(big):
            return number_to_words(self.rng.randint(21, 999))
        return number_to_words(self.rng.randint(low, high))

    def name(self, surname: float = 0.12) -> str:
        """A given name (sometimes with a family name); "{he}"/"{his}"/"{him}" then agree."""
        female = self.chance(0.5)
        first = self.pick(self.v.names["female" if female else "male"])
        self.pronouns = ("she", "her", "her") if female else ("he", "his", "him")
        if self.chance(surname):
            return f"{first} {self.pick(self.v.names['last'])}"
        return first

    # --- numbers the way people say them
    def cardinal_words(self) -> str:
        """A number of people or things, mostly small, sometimes thousands or millions."""
        kind = self.weighted([("small", 3), ("hundreds", 3), ("thousands", 3), ("millions", 1)])
        if kind == "small":
            n = self.rng.randint(21, 99)
        elif kind == "hundreds":
            n = self.rng.randint(1, 9) * 100 + self.pick([0, 0, self.rng.randint(1, 99)])
        elif kind == "thousands":
            n = self.rng.randint(1, 999) * 1000 + self.pick([0, 0, 0, self.rng.randint(1, 999)])
        else:
            n = self.rng.randint(1, 900) * 1_000_000 + self.pick(
                [0, 0, self.rng.randint(1, 9) * 100_000]
            )
            if self.chance(0.3):
                whole = number_to_words(self.rng.randint(1, 9))
                return f"{whole} point {self.pick(_ONES[1:])} million"
        return cardinal(n, british=self.chance(0.35))

    def year_slot(self) -> str:
        year = self.rng.randint(1900, 2030)
        return year_words(year, formal=year >= 2010 and self.chance(0.4))

    def decimal_slot(self) -> str:
        whole = self.pick([0, 0, 1, 2, 3, self.rng.randint(4, 99)])
        digits = "".join(str(self.rng.randint(0, 9)) for _ in range(self.pick([1, 1, 2])))
        return decimal_words(f"{whole}.{digits}", drop_zero=whole == 0 and self.chance(0.4))

    def percent_slot(self) -> str:
        if self.chance(0.2):
            return f"{self.decimal_slot()} percent"
        n = self.pick([5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 80, 90, 100, self.rng.randint(1, 99)])
        return f"{cardinal(n)} percent"

    def money_slot(self, small: bool = False) -> str:
        currency = self.weighted([("dollars", 4), ("euros", 2), ("pounds", 2)])
        whole = self.rng.randint(1, 20 if small else self.pick([20, 100, 2000]))
        cents = self.pick([0, 0, 50, 99, 25, 5 * self.rng.randint(1, 19), self.rng.randint(1, 99)])
        unit, units, _, _ = _CURRENCIES[currency]
        style = self.weighted([("full", 4), ("short", 2), ("bare", 1)])
        if style == "full" or cents == 0:
            return money_words(whole * 100 + cents, currency)
        if style == "short":  # "five dollars fifty"
            return f"{cardinal(whole)} {unit if whole == 1 else units} {cardinal(cents)}"
        cents_words = f"oh {_ONES[cents]}" if cents < 10 else cardinal(cents)
        return f"{cardinal(whole)} {cents_words}"  # "five twenty five"

    def phone_slot(self) -> str:
        digits = "".join(str(self.rng.randint(0, 9)) for _ in range(self.pick([7, 7, 10, 11])))
        if self.chance(0.2):
            digits = "555" + digits[3:]
        return phone_words(digits, zero="oh" if self.chance(0.7) else "zero")

    def measure(self, table) -> str:
        unit, low, high, step = self.weighted(list(table))
        n = self.rng.randrange(low, high + 1, step)
        r = self.rng.random()
        if r < 0.12 and high <= 40:
            return f"{cardinal(n)} and a half {unit}"
        if r < 0.2:
            return f"{decimal_words(f'{n % 10}.{self.rng.randint(1, 9)}')} {unit}"
        return f"{cardinal(n)} {unit}"

    def height(self) -> str:
        feet, inches = self.rng.randint(4, 6), self.rng.randint(0, 11)
        return self.weighted(
            [
                (f"{cardinal(feet)} feet tall", 2),
                (
                    f"{cardinal(feet)} foot {cardinal(inches)}"
                    if inches
                    else f"{cardinal(feet)} foot",
                    2,
                ),
                (f"one meter {cardinal(self.rng.randint(50, 95))}", 1),
                (f"{decimal_words(f'1.{self.rng.randint(50, 95)}')} meters tall", 1),
            ]
        )

    def temperature(self) -> str:
        n = self.rng.randint(-15, 40) if self.chance(0.7) else self.rng.randint(150, 250)
        if n > 100:
            n -= n % 10
        sign = "minus " if n < 0 else ""
        scale = self.pick(["", "", "celsius", "fahrenheit"]) if -15 <= n <= 40 else ""
        return f"{sign}{cardinal(abs(n))} degrees {scale}".strip()

    def duration(self) -> str:
        n = self.rng.randint(2, 59)
        return self.weighted(
            [
                (f"{cardinal(n)} minutes", 4),
                (f"{cardinal(self.rng.randint(2, 12))} hours", 2),
                ("an hour", 1),
                ("half an hour", 1),
                ("an hour and a half", 0.6),
                (f"{cardinal(self.rng.randint(1, 3))} and a half hours", 0.5),
                (f"{cardinal(self.rng.randint(2, 14))} days", 1),
                ("a quarter of an hour", 0.4),
                (f"{cardinal(n)} seconds", 0.5),
                ("ten minutes", 0.5),
            ]
        )

    def verb_phrase(self) -> str:
        """A bare verb phrase for "remind me to ...": "buy some milk", "call the dentist"."""
        verb = self.pick(self.verbs_for["person"])
        frame = self.pick(verb.frames)
        return " ".join([verb.base, *self.complement(frame)])

    def city(self) -> str:
        return self.pick(self.v.places["city"])

    def country(self) -> str:
        return self.pick(self.v.places["country"])

    def clock_time(self) -> str:
        hour = number_to_words(self.rng.randint(1, 12))
        return self.weighted(
            [
                (f"{hour} o'clock", 3),
                (hour, 2),
                (f"half past {hour}", 2),
                (f"a quarter past {hour}", 1),
                (f"a quarter to {hour}", 1),
                (f"{hour} {self.pick(['fifteen', 'thirty', 'forty five', 'twenty'])}", 3),
                (f"{hour} in the {self.pick(['morning', 'afternoon', 'evening'])}", 2),
                ("noon", 0.3),
                ("midnight", 0.3),
            ]
        )

    def date(self) -> str:
        month = self.pick(MONTHS)
        day = ordinal(self.rng.randint(1, 28))
        return self.pick([f"the {day} of {month}", f"{month} the {day}"])

    def time_expression(self, tense: str) -> str:
        day = self.pick(DAYS)
        n = self.number(2, 10, big=0)
        options = {
            "past": [
                "yesterday",
                "last night",
                f"last {self.pick(['week', 'month', 'year', 'summer', 'winter', day])}",
                f"on {day}",
                "this morning",
                f"{n} {self.pick(['days', 'weeks', 'months', 'years'])} ago",
                "a few minutes ago",
                f"in {year_words(self.rng.randint(1950, 2023))}",
                f"in {self.pick(MONTHS)}",
                f"at {self.clock_time()}",
                "earlier today",
                "the day before yesterday",
                f"on {self.date()}",
            ],
            "future": [
                "tomorrow",
                "tonight",
                f"next {self.pick(['week', 'month', 'year', 'summer', day])}",
                f"on {day}",
                "this evening",
                f"in {n} {self.pick(['minutes', 'hours', 'days', 'weeks'])}",
                "soon",
                "later",
                f"at {self.clock_time()}",
                "the day after tomorrow",
                f"on {self.date()}",
                "after lunch",
                "before dinner",
            ],
            "present": [
                "every day",
                f"every {self.pick(['morning', 'evening', 'week', 'summer', day])}",
                f"on {day}s",
                f"in the {self.pick(['morning', 'afternoon', 'evening'])}",
                "at night",
                "at the weekend",
                "twice a week",
                "once a month",
                f"at {self.clock_time()}",
            ],
            "progressive": ["right now", "at the moment", "today", "this week", "now"],
            "perfect": ["this week", "this year", "recently", "today", "twice", "before"],
        }
        key = {
            "going_to": "future",
            "modal": "future",
            "past_progressive": "past",
        }.get(tense, tense)
        return self.pick(options[key])

    # --- noun phrases
    def adjective(self, cls: str) -> str | None:
        adjectives = self.v.adjectives.get(cls)
        return self.pick(adjectives) if adjectives else None

    def noun_of(self, cls: str) -> tuple[Noun, str]:
        """A noun of class ``cls`` (or the literal noun ``cls``) and the class to describe it."""
        if cls in self.v.nouns:
            return self.pick(self.v.nouns[cls]), cls
        return self.v.literal(cls)

    def noun_phrase(
        self, cls: str, *, plural: bool | None = None, pronoun: bool = False, names: bool = True
    ) -> str:
        """A determiner phrase for class ``cls``: "the old bridge", "three apples", "english"."""
        if cls == "city":
            return self.city()
        if cls == "country":
            return self.country()
        if cls == "person" and names:
            r = self.rng.random()
            if r < 0.22 and not plural:
                return self.name()
            if pronoun and r < 0.36:
                return self.pick(_OBJECT_PRONOUNS)
        noun, group = self.noun_of(cls)
        if noun.bare:
            return noun.singular
        adjective = self.adjective(group) if self.chance(0.3) else None
        if noun.mass:
            head = f"{adjective} {noun.singular}" if adjective else noun.singular
            det = self.weighted(
                [("the", 5), ("some", 2), ("my", 1), ("our", 0.5), ("this", 0.5), ("", 1.5)]
            )
            return f"{det} {head}".strip()
        if plural is None:
            plural = noun.plural is not None and self.chance(0.3)
        if plural and noun.plural:
            head = f"{adjective} {noun.plural}" if adjective else noun.plural
            det = self.weighted(
                [
                    ("the", 5),
                    ("some", 2),
                    ("my", 1.2),
                    (self.number(), 2),
                    ("these", 0.6),
                    ("those", 0.6),
                    ("many", 0.5),
                    ("a few", 0.6),
                    ("our", 0.5),
                    ("their", 0.5),
                    ("", 1),
                ]
            )
            return f"{det} {head}".strip()
        head = f"{adjective} {noun.singular}" if adjective else noun.singular
        det = self.weighted(
            [
                ("the", 9),
                ("a", 5),
                ("my", 1.6),
                ("your", 0.8),
                ("his", 0.8),
                ("her", 0.8),
                ("our", 0.6),
                ("their", 0.6),
                ("this", 0.6),
                ("that", 0.5),
            ]
        )
        if det == "a":
            det = _article(head)
        return f"{det} {head}"

    def subject(self, cls: str = "person") -> tuple[str, str]:
        """(subject words, person) with person in {"i", "s", "p"}."""
        if cls == "person":
            r = self.rng.random()
            if r < 0.30:
                pronoun = self.pick(["i", "you", "he", "she", "we", "they", "i", "we"])
                return pronoun, {"i": "i", "he": "s", "she": "s"}.get(pronoun, "p")
            if r < 0.50:
                return self.name(), "s"
            if r < 0.54:
                return f"{self.name()} and {self.name()}", "p"
            if r < 0.57:
                return f"my friend {self.name()}", "s"
        plural = self.chance(0.25)
        return self.noun_phrase(cls, plural=plural, names=False), ("p" if plural else "s")

    # --- verbs
    def verb_parts(
        self, verb: Verb, tense: str, person: str, neg: bool = False, question: bool = False
    ) -> tuple[list[str], list[str]]:
        """(auxiliaries, main verb words): statement = subj+aux+main; question = aux[0]+subj+..."""
        if tense in ("present", "past"):
            if not neg and not question:
                form = (
                    verb.past if tense == "past" else (verb.third if person == "s" else verb.base)
                )
                return [], [form]
            if tense == "past":
                aux = "didn't" if neg else "did"
            else:
                aux = (
                    ("doesn't" if neg else "does") if person == "s" else ("don't" if neg else "do")
                )
            return [aux], [verb.base]
        if tense == "future":
            return ["won't" if neg else "will"], [verb.base]
        if tense == "going_to":
            be = _BE_NEG[person] if neg else _BE[person]
            return be.split(), ["going", "to", verb.base]
        if tense in ("progressive", "past_progressive") and verb.base in _STATIVE:
            tense = "past" if tense == "past_progressive" else "present"
            return self.verb_parts(verb, tense, person, neg, question)
        if tense == "progressive":
            be = _BE_NEG[person] if neg else _BE[person]
            return be.split(), [verb.ing]
        if tense == "past_progressive":
            be = _WAS[person] + ("n't" if neg else "")
            return [be], [verb.ing]
        if tense == "perfect":
            have = "has" if person == "s" else "have"
            return [have + ("n't" if neg else "")], [verb.participle]
        modal, modal_neg = self.pick(_MODALS)
        return (modal_neg if neg else modal).split(), [verb.base]

    def complement(self, frame: tuple[Slot, ...], skip_first: bool = False) -> list[str]:
        words: list[str] = []
        for i, slot in enumerate(frame):
            if skip_first and i == 0:
                continue
            phrase = self.noun_phrase(self.pick(slot.classes), pronoun=True)
            words += [slot.prep, phrase] if slot.prep else [phrase]
        return words

    def location(self) -> str:
        return f"{self.pick(_LOCATION_PREPS)} {self.noun_phrase('place', plural=False)}"

    def adjuncts(self, tense: str, frame: tuple[Slot, ...]) -> list[str]:
        words = []
        if self.chance(0.1):
            words.append(self.pick(self.v.adverbs["manner"]))
        if self.chance(0.3 if not frame else 0.1):
            words.append(self.location())
        if self.chance(0.3):
            words.append(self.time_expression(tense))
        return words

    def choose_tense(self) -> str:
        return self.weighted(list(_TENSES))

    def clause(
        self, tense: str | None = None, *, neg: bool | None = None, short: bool = False
    ) -> list[str]:
        """A declarative clause: subject, verb group, complement, maybe adjuncts."""
        tense = tense or self.choose_tense()
        subject_cls = "animal" if self.chance(0.12) else "person"
        verb = self.pick(self.verbs_for[subject_cls])
        frame = self.pick(verb.frames)
        subj, person = self.subject(subject_cls)
        if neg is None:
            neg = self.chance(0.12)
        aux, main = self.verb_parts(verb, tense, person, neg)
        if not neg and tense in ("present", "past") and self.chance(0.1):
            aux = [self.pick(self.v.adverbs["frequency"])]
        elif tense == "perfect" and not neg and self.chance(0.2):
            aux = [*aux, self.pick(["already", "just", "never"])]
        words = [*self.contracted(subj, aux), *main, *self.complement(frame)]
        if not short:
            words += self.adjuncts(tense, frame)
        return words

    def contracted(self, subj: str, aux: list[str], p: float = 0.45) -> list[str]:
        """Subject and auxiliaries, often contracted as people say them: "we'll", "i'm not"."""
        if aux and (subj, aux[0]) in _CONTRACT and self.chance(p):
            return [_CONTRACT[subj, aux[0]], *aux[1:]]
        return [subj, *aux]

    def tag_question(self) -> list[str]:
        """A statement with a tag: "you're coming tomorrow aren't you", "it's cold isn't it"."""
        if self.chance(0.2):
            be = self.pick([("is", "isn't"), ("was", "wasn't"), ("isn't", "is")])
            adj = self.adjective("weather") or "cold"
            return [
                *self.contracted("it", [be[0]], 0.6),
                adj,
                self.time_expression("progressive"),
                be[1],
                "it",
            ]
        tense = self.weighted(
            [
                ("present", 3),
                ("past", 4),
                ("future", 2),
                ("progressive", 2),
                ("perfect", 2),
                ("going_to", 1),
            ]
        )
        verb = self.pick(self.verbs_for["person"])
        frame = self.pick(verb.frames)
        if self.chance(0.3):
            subj = self.name(surname=0)
            pronoun, person = self.pronouns[0], "s"
        else:
            subj = pronoun = self.pick(["i", "you", "he", "she", "we", "they", "you", "we"])
            person = {"i": "i", "he": "s", "she": "s"}.get(pronoun, "p")
        neg = self.chance(0.3)
        aux, main = self.verb_parts(verb, tense, person, neg)
        if not aux:  # simple present or past: "you like it don't you"
            simple = "past" if tense == "past" else "present"  # a stative verb drops "-ing"
            tag = {"past": "didn't", "present": "doesn't" if person == "s" else "don't"}[simple]
        elif aux[:2] == ["am", "not"]:
            tag = "am"
        elif aux[0] == "am":
            tag = "aren't"
        else:
            tag = _TAG.get(aux[0])
            if tag is None:
                return self.yes_no_question()
        words = [*self.contracted(subj, aux), *main, *self.complement(frame)]
        if self.chance(0.3):
            words.append(self.time_expression(tense))
        return [*words, tag, pronoun]

    def dialog(self) -> list[str]:
        """A question to "you" and its short answer: "did you call mom yes i did"."""
        if self.chance(0.45):
            return self.expand(self.pick(self.v.templates["conversation_dialog"])).split()
        tense = self.weighted(
            [
                ("past", 4),
                ("present", 2),
                ("future", 2),
                ("perfect", 2),
                ("progressive", 1),
                ("modal", 1),
            ]
        )
        verb = self.pick(self.verbs_for["person"])
        frame = self.pick(verb.frames)
        aux, main = self.verb_parts(verb, tense, "p", question=True)
        if aux[0] not in ("did", "do", "will", "have", "are", "can", "could", "would", "should"):
            aux, main = self.verb_parts(verb, "past", "p", question=True)
        question = [aux[0], "you", *aux[1:], *main, *self.complement(frame)]
        mine = {"are": "am", "would": "would", "should": "should"}.get(aux[0], aux[0])
        negative = {"am": "i'm not", "can": "i can't", "will": "i won't"}.get(mine, f"i {mine}n't")
        answer = self.weighted(
            [
                (f"yes i {mine}", 4),
                (f"no {negative}", 3),
                (self.pick(["i think so", "i'm not sure", "of course", "not really", "maybe"]), 2),
                ("not yet" if tense == "perfect" else "sorry i forgot", 1),
                (f"yes i {mine} {self.time_expression(tense)}", 1),
            ]
        )
        return [*question, *answer.split()]

    def template(self, shape: str) -> list[str]:
        return self.expand(self.pick(self.v.templates[shape])).split()

    # --- sentence shapes
    def statement(self) -> list[str]:
        return self.clause()

    def yes_no_question(self) -> list[str]:
        tense = self.weighted([(t, w) for t, w in _TENSES if t != "past_progressive"])
        verb = self.pick(self.verbs_for["person"])
        frame = self.pick(verb.frames)
        subj, person = self.subject("person")
        aux, main = self.verb_parts(verb, tense, person, neg=self.chance(0.08), question=True)
        if tense == "perfect" and self.chance(0.3):
            main = ["ever", *main]
        words = [aux[0], subj, *aux[1:], *main, *self.complement(frame)]
        if self.chance(0.3):
            words.append(self.time_expression(tense))
        return words

    def wh_question(self) -> list[str]:
        tense = self.weighted([("past", 4), ("present", 3), ("future", 2), ("modal", 1)])
        kind = self.rng.random()
        if kind < 0.35:  # object question: what/which/how many
            verb, frame = self.pick(self.transitive)
            subj, person = self.subject("person")
            aux, main = self.verb_parts(verb, tense, person, question=True)
            cls = self.pick(frame[0].classes)
            noun, _ = self.noun_of(cls)
            if noun.plural and not noun.bare and self.chance(0.3):
                wh = f"how many {noun.plural}"
            elif not noun.bare and cls not in ("person", "city", "country") and self.chance(0.4):
                wh = f"which {noun.singular}"
            else:
                wh = "who" if cls == "person" else "what"
            return [wh, aux[0], subj, *aux[1:], *main, *self.complement(frame, skip_first=True)]
        if kind < 0.5:  # subject question
            verb = self.pick(self.verbs_for["person"])
            frame = self.pick(verb.frames)
            aux, main = self.verb_parts(verb, tense, "s")
            return ["who", *aux, *main, *self.complement(frame)]
        wh = self.weighted(
            [("where", 3), ("when", 2), ("why", 3), ("how", 1.5), ("how often", 0.5)]
        )
        verb = self.pick(self.verbs_for["person"])
        frame = self.pick(verb.frames)
        subj, person = self.subject("person")
        aux, main = self.verb_parts(verb, tense, person, question=True)
        return [wh, aux[0], subj, *aux[1:], *main, *self.complement(frame)]

    def command(self) -> list[str]:
        verb = self.pick(self.verbs_for["person"])
        frame = self.pick(verb.frames)
        body = [verb.base, *self.complement(frame)]
        if self.chance(0.25):
            body += self.adjuncts("future", frame)
        r = self.rng.random()
        if r < 0.15:
            return ["don't", *body]
        if r < 0.27:
            return ["let's", *body]
        if r < 0.37:
            return ["could", "you", "please", *body]
        if r < 0.45:
            return [self.name(), "please", *body]
        if r < 0.52:
            return [self.pick(["remember to", "try to", "don't forget to"]), *body]
        if r < 0.75:
            return ["please", *body]
        return body

    def complex_sentence(self) -> list[str]:
        kind = self.weighted(
            [
                ("because", 3),
                ("when", 3),
                ("if", 3),
                ("after", 1.5),
                ("before", 1.5),
                ("while", 1.5),
                ("but", 2),
                ("and", 1.5),
                ("so", 1.5),
                ("although", 1),
                ("until", 0.7),
                ("report", 2),
                ("relative", 3),
                ("relative_person", 1.5),
                ("indirect", 1.5),
            ]
        )
        short = self.chance(0.5)
        if kind == "because":
            tense = self.pick(["past", "present", "future", "perfect"])
            return [*self.clause(tense, short=True), "because", *self.clause(short=short)]
        if kind in ("when", "after", "before"):
            if self.chance(0.5):
                first, second = self.clause("past", neg=False, short=True), self.clause("past")
            else:
                first, second = self.clause("present", neg=False, short=True), self.clause("future")
            return [kind, *first, *second] if self.chance(0.6) else [*second, kind, *first]
        if kind == "if":
            condition = self.clause("present", short=True)
            result = self.command() if self.chance(0.3) else self.clause("future", short=short)
            return ["if", *condition, *result]
        if kind == "while":
            return ["while", *self.clause("past_progressive", short=True), *self.clause("past")]
        if kind in ("but", "and", "so", "although"):
            tense = self.pick(["past", "present", "future"])
            first = self.clause(tense, short=True)
            second = self.clause(tense, short=short)
            return ["although", *first, *second] if kind == "although" else [*first, kind, *second]
        if kind == "until":
            return [
                *self.clause("future", short=True),
                "until",
                *self.clause("present", short=True),
            ]
        if kind == "report":
            speaker, person = self.subject("person")
            said = self.pick(["said", "told me", "thinks", "knew", "heard", "hoped", "explained"])
            if said == "thinks" and person != "s":
                said = "think"
            if said == "told me" and speaker in ("i", "we"):
                said = "told them"
            that = ["that"] if self.chance(0.5) else []
            return [speaker, said, *that, *self.clause(self.pick(["past", "future", "perfect"]))]
        if kind == "relative":
            verb, frame = self.pick(self.transitive)
            cls = self.pick(frame[0].classes)
            head = self.noun_phrase(cls, plural=False)
            if head.split()[0] in ("a", "an", "my", "your", "his", "her", "our", "their"):
                head = "the " + " ".join(head.split()[1:])
            subj, _ = self.subject("person")
            rest = self.complement(frame, skip_first=True)
            rel = self.pick(["that", "which", ""]) if cls != "person" else self.pick(["who", ""])
            _, group = self.noun_of(cls)
            adj = self.adjective(group) or "nice"
            ending = self.pick([["was", adj], ["is", adj], ["was", "too", adj], ["looked", adj]])
            return [head, rel, subj, verb.past, *rest, *ending]
        if kind == "relative_person":
            verb = self.pick(self.verbs_for["person"])
            frame = self.pick(verb.frames)
            who = self.noun_phrase("person", plural=False)
            if who.split()[0] in ("a", "an"):
                who = "the " + " ".join(who.split()[1:])
            what = self.pick(
                [
                    ["is", "my", self.pick(self.v.nouns["person"]).singular],
                    ["lives", "in", self.city()],
                    ["was", self.adjective("person")],
                    ["comes", "from", self.country()],
                ]
            )
            return [who, "who", verb.past, *self.complement(frame), *what]
        # indirect question
        opener = self.pick(["do you know", "can you tell me", "i wonder", "i don't know"])
        wh = self.pick(["where", "why", "when", "if", "how"])
        return [opener, wh, *self.clause(self.pick(["past", "future", "present"]), short=True)]

    def fixed(self) -> list[str]:
        """Shapes that carry numbers, times, dates, money, names and places (see _FIXED)."""
        return self.expand(self.pick(_FIXED)).split()

    def expand(self, template: str) -> str:
        """Fill a template: ``{slot}``, ``(a|b)`` picks one, ``[...]`` is kept half the time."""
        template = _OPTIONAL.sub(lambda m: m.group(1) if self.chance(0.5) else "", template)
        template = _CHOICE.sub(lambda m: self.pick(m.group(1).split("|")), template)
        return _SLOT.sub(lambda m: self.slot(m.group(1)), template)

    def slot(self, name: str) -> str:
        v = self.v
        fillers = {
            "n": lambda: self.number(),
            "small_n": lambda: self.number(2, 59, big=0),
            "age": lambda: self.number(3, 99, big=0),
            "digit": lambda: number_to_words(self.rng.randint(0, 9)),
            "hour": lambda: number_to_words(self.rng.randint(1, 12)),
            "room_no": lambda: cardinal(self.rng.randint(1, 999)),
            "few": lambda: cardinal(self.rng.randint(2, 6)),
            "digits": lambda: " ".join(self.slot("digit") for _ in range(self.rng.randint(5, 9))),
            "phone": self.phone_slot,
            "big_n": self.cardinal_words,
            "money": self.money_slot,
            "price": lambda: self.money_slot(small=True),
            "decimal": self.decimal_slot,
            "percent": self.percent_slot,
            "ordinal_n": lambda: ordinal(self.rng.randint(1, 30)),
            "weight": lambda: self.measure(_WEIGHTS),
            "length": lambda: self.measure(_LENGTHS),
            "distance": lambda: self.measure(_DISTANCES),
            "volume": lambda: self.measure(_VOLUMES),
            "height": self.height,
            "temperature": self.temperature,
            "duration": self.duration,
            "speed": lambda: f"{cardinal(self.rng.randint(2, 14) * 10)} (miles|kilometers) an hour",
            "vp": self.verb_phrase,
            "clause": lambda: " ".join(self.clause(short=True)),
            "he": lambda: self.pronouns[0],
            "his": lambda: self.pronouns[1],
            "him": lambda: self.pronouns[2],
            "surname": lambda: self.pick(v.names["last"]),
            "full_name": lambda: self.name(surname=1.0),
            "contact": lambda: self.name(0.3) if self.chance(0.5) else self.pick(_CONTACTS),
            "street": lambda: self.pick(v.places["street"]),
            "name": self.name,
            "city": self.city,
            "country": self.country,
            "date": self.date,
            "day": lambda: self.pick(DAYS),
            "month": lambda: self.pick(MONTHS),
            "year": self.year_slot,
            "clock": self.clock_time,
            "past_time": lambda: self.time_expression("past"),
            "future_time": lambda: self.time_expression("future"),
            "now_time": lambda: self.time_expression("progressive"),
            "thing_np": lambda: self.noun_phrase("thing", plural=False),
            "place_np": lambda: self.noun_phrase("place", plural=False),
            "food_np": lambda: self.noun_phrase("food"),
            "location": self.location,
            "subject": lambda: self.subject("person")[0],
            "job": lambda: self._a(self.job()),
            "relative": lambda: self.pick(_RELATIVES),
            "currency": self.currency,
            "adj_weather": lambda: self.adjective("weather") or "cold",
            "adj_person": lambda: self.adjective("person") or "tired",
            "adj_thing": lambda: self.adjective("thing") or "old",
            "adj_place": lambda: self.adjective("place") or "busy",
        }
        if name in fillers:
            return _CHOICE.sub(lambda m: self.pick(m.group(1).split("|")), fillers[name]())
        if name.startswith("adj_"):  # "{adj_food}": an adjective for a noun class
            return self.adjective(name[4:]) or ""
        cls, _, form = name.partition(".")  # "{animal.pl}", "{event}", "{event.a}"
        if form == "np":
            return self.noun_phrase(cls)
        noun = self.pick(v.nouns[cls]) if cls in v.nouns else v.literal(cls)[0]
        if form in ("cpl", "mass") and cls in v.nouns:  # a countable plural / a mass noun
            wanted = [n for n in v.nouns[cls] if (n.mass if form == "mass" else n.plural)]
            noun = self.pick(wanted or v.nouns[cls])
            return noun.singular if form == "mass" else (noun.plural or noun.singular)
        if form == "pl":
            return noun.plural or noun.singular
        if form == "a":
            return noun.singular if noun.mass or noun.bare else self._a(noun.singular)
        return noun.singular

    def job(self) -> str:
        while True:
            noun = self.pick(self.v.nouns["person"]).singular
            if noun not in _NOT_JOBS:
                return noun

    def currency(self) -> str:
        return self.pick(["dollars", "pounds", "euros", "dollars", "cents", "rupees", "yen"])

    def year(self) -> int:
        return self.rng.randint(1920, 2023)

    def digits(self) -> list[str]:
        names = "zero one two three four five six seven eight nine".split()
        return [self.pick(names) for _ in range(self.rng.randint(5, 9))]

    def _a(self, word: str) -> str:
        return f"{_article(word)} {word}"

    def sentence(self) -> tuple[str, str]:
        """(shape, normalized text) with shape one of ``SHAPES``."""
        shape, make = self.weighted(
            [
                (("statement", self.statement), 20),
                (("statement", self.complex_sentence), 17),
                (("statement", self.fixed), 6),
                (("statement", lambda: self.template("statement")), 12),
                (("question", self.yes_no_question), 6),
                (("question", self.wh_question), 6),
                (("question", self.tag_question), 3),
                (("question", lambda: self.template("question")), 6),
                (("command", self.command), 6),
                (("command", lambda: self.template("command")), 9),
                (("conversation", lambda: self.template("conversation")), 6),
                (("conversation", self.dialog), 3),
            ]
        )
        words = [w for w in make() if w]
        if shape != "conversation" and self.chance(0.07):
            words = [*self.weighted(_FILLERS).split(), *words]
        text = normalize_text(" ".join(words))
        if " a " in f" {text} " or " an " in f" {text} ":  # "a" / "an" by the next word
            tokens = text.split()
            for i, word in enumerate(tokens[:-1]):
                if word in ("a", "an"):
                    tokens[i] = _article(tokens[i + 1])
            text = " ".join(tokens)
        return shape, text


def iter_tagged_sentences(seed: int) -> Iterator[tuple[str, str]]:
    """``iter_sentences(seed)`` with each sentence's shape ("statement", "question", "command"
    or "conversation"), so tests and callers can check the mix."""
    rng = random.Random(seed)
    grammar = _Grammar(rng, vocabulary())
    seen: set[str] = set()
    while True:
        shape, text = grammar.sentence()
        if MIN_WORDS <= text.count(" ") + 1 <= MAX_WORDS and text not in seen:
            seen.add(text)
            yield shape, text


def iter_sentences(seed: int) -> Iterator[str]:
    """An endless stream of distinct normalized sentences of 4-20 words for ``seed``."""
    for _, text in iter_tagged_sentences(seed):
        yield text


def generate_sentences(n: int, seed: int) -> list[str]:
    """The first ``n`` sentences of ``iter_sentences(seed)`` (all distinct)."""
    return list(islice(iter_sentences(seed), n))

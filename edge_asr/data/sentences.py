"""Everyday English sentences from a small grammar and a vocabulary of ~2,500 words.

The synthetic corpus needs text that covers ordinary vocabulary and sentence shapes (statements,
questions, commands, subordinate and relative clauses, numbers, times, dates, money), not a few
templates a model could memorize. Verbs carry frames that say which noun classes they take
("eat" takes food, "drive" a vehicle), so most sentences are plausible. The vocabulary lives in
``words/*.txt`` (one word a line, grouped by class) so it can be read and extended without code.

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

from runtime.text import normalize_text, number_to_words

WORDS_DIR = Path(__file__).with_name("words")
MIN_WORDS, MAX_WORDS = 4, 20

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
                raise ValueError(f"{name}: entry {line!r} before any '## section'")
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
        cls: [_parse_noun(e) for e in entries] for cls, entries in _sections("nouns.txt").items()
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
    vocab = Vocabulary(
        nouns=nouns,
        noun_index=noun_index,
        adjectives={k: list(dict.fromkeys(v)) for k, v in _sections("adjectives.txt").items()},
        verbs=[_parse_verb(line) for line in verb_lines],
        adverbs=_sections("adverbs.txt"),
        names=_sections("names.txt"),
        places=_sections("places.txt"),
        noun_class=noun_class,
    )
    words: dict[str, None] = {}
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
def ordinal(n: int) -> str:
    """1 -> "first", 23 -> "twenty third" (1-99)."""
    if n <= 20:
        return _ORDINALS[n - 1]
    tens, ones = divmod(n, 10)
    tens_word = number_to_words(tens * 10)
    if ones == 0:
        return tens_word[:-1] + "ieth"
    return f"{tens_word} {_ORDINALS[ones - 1]}"


def year_words(year: int) -> str:
    """Years the way people say them: 1984 "nineteen eighty four", 2005 "two thousand and five"."""
    if 2000 <= year < 2010:
        return "two thousand" if year == 2000 else f"two thousand and {number_to_words(year % 10)}"
    head, tail = divmod(year, 100)
    if tail == 0:
        return f"{number_to_words(head)} hundred"
    tail_words = f"oh {number_to_words(tail)}" if tail < 10 else number_to_words(tail)
    return f"{number_to_words(head)} {tail_words}"


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
    "my phone number is {digits}",
    "the room number is {room}",
    "the (train|bus|ferry|plane|flight) to {city} (leaves|arrives|departs) at {clock}",
    "the {event} (starts|begins|ends|finishes) at {clock} [on {day}]",
    "(we have|there is|i have) {event.a} on {date}",
    "my name is {name} [and i live in {city}]",
    "this is my {relative} {name}",
    "{name} lives in {city} [with (her|his) {person}]",
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


class _Grammar:
    def __init__(self, rng: random.Random, vocab: Vocabulary) -> None:
        self.rng = rng
        self.v = vocab
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

    def name(self) -> str:
        first = self.pick(self.v.names["first"])
        return first

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
        words = [subj, *aux, *main, *self.complement(frame)]
        if not short:
            words += self.adjuncts(tense, frame)
        return words

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
            "room": lambda: number_to_words(self.rng.randint(1, 999)),
            "digits": lambda: " ".join(self.slot("digit") for _ in range(self.rng.randint(5, 9))),
            "name": self.name,
            "city": self.city,
            "country": self.country,
            "date": self.date,
            "day": lambda: self.pick(DAYS),
            "month": lambda: self.pick(MONTHS),
            "year": lambda: year_words(self.rng.randint(1920, 2023)),
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
            return fillers[name]()
        cls, _, form = name.partition(".")  # "{animal.pl}", "{event}", "{event.a}"
        noun = self.pick(v.nouns[cls]) if cls in v.nouns else v.literal(cls)[0]
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

    def sentence(self) -> str:
        shape = self.weighted(
            [
                (self.statement, 30),
                (self.yes_no_question, 9),
                (self.wh_question, 9),
                (self.command, 10),
                (self.complex_sentence, 27),
                (self.fixed, 15),
            ]
        )
        return normalize_text(" ".join(w for w in shape() if w))


def iter_sentences(seed: int) -> Iterator[str]:
    """An endless stream of distinct normalized sentences of 4-20 words for ``seed``."""
    rng = random.Random(seed)
    grammar = _Grammar(rng, vocabulary())
    seen: set[str] = set()
    while True:
        text = grammar.sentence()
        if MIN_WORDS <= len(text.split()) <= MAX_WORDS and text not in seen:
            seen.add(text)
            yield text


def generate_sentences(n: int, seed: int) -> list[str]:
    """The first ``n`` sentences of ``iter_sentences(seed)`` (all distinct)."""
    return list(islice(iter_sentences(seed), n))

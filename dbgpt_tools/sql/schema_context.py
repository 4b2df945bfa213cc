"""The schema text a text-to-SQL prompt gets: the whole schema when it fits, else the tables a question needs.

Ranking is lexical (no embeddings): question words, lower-cased, split at snake/camel case and reduced to a
singular stem, are matched against table names (highest weight), column names, comments and sample values,
weighted by how rare the word is in the schema; then tables joined by a foreign key to well-matching tables
get part of their score, so join tables come along.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

from dbgpt_tools.sql.schema_models import ColumnInfo, SchemaInfo, TableInfo
from dbgpt_tools.sql.schema_text import render_columns, render_overview, render_table

CHARS_PER_TOKEN = 3.5
"""BPE tokenizers (Llama, Qwen, GPT) spend about one token per 3.5-4 characters of SQL and English."""

_NAME, _COLUMN, _COMMENT, _SAMPLE = 3.0, 1.0, 0.7, 0.7
_SYNONYM = 0.5  # weight of a word reached through the synonym map
_FK_SHARE = 0.5  # part of a neighbour's score a table connected by a foreign key gets (two best neighbours)
_RELEVANT = 0.5  # tables scoring at least this part of the best score are chosen before any gets detail
_SEP = "\n"
_MIN_TABLE_CHARS = 24  # below this much room no table fits: stop rendering candidates

_STOPWORDS_TEXT = (
    "a an and any are as at be been by can did do does each every for from give had has have how i if in into "
    "is it its list me my of on or our per show than that the their them there these they this those to was "
    "we were what when where which who whom whose why will with would you all find get tell return display "
    "many much id"
)
_IRREGULAR = {
    "people": "person", "children": "child", "men": "man", "women": "woman", "statuses": "status",
    "analyses": "analysis", "indices": "index", "criteria": "criterion",
}  # fmt: skip
_ABBREVIATIONS = {
    "cust": "customer", "qty": "quantity", "amt": "amount", "dept": "department", "emp": "employee",
    "addr": "address", "acct": "account", "txn": "transaction", "num": "number", "desc": "description",
}  # fmt: skip
_SYNONYMS = {
    "revenue": ("amount", "price", "total", "sale"),
    "sale": ("amount", "order", "revenue"),
    "income": ("amount", "revenue"),
    "cost": ("price", "amount"),
    "spend": ("amount", "price"),
    "staff": ("employee",),
    "worker": ("employee",),
    "personnel": ("employee",),
    "client": ("customer",),
    "buyer": ("customer",),
    "purchase": ("order",),
    "vendor": ("supplier",),
    "supplier": ("vendor",),
    "salary": ("pay", "payroll", "compensation"),
    "wage": ("salary", "pay", "payroll"),
    "shipment": ("delivery", "shipping"),
    "delivery": ("shipment",),
    "item": ("product",),
    "good": ("product",),
    "city": ("address", "location"),
    "country": ("address", "location"),
}
_PIECES = re.compile(r"[^\W\d_]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")


def estimate_tokens(text: str) -> int:
    """Tokens `text` costs in a prompt, approximated as ceil(characters / 3.5) (no tokenizer needed)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _stem(word: str) -> str:
    """A crude singular form, the same for both numbers of a word ('categories'/'category' -> 'category')."""
    word = _ABBREVIATIONS.get(word, word)
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("ie"):  # movie/movies -> movy, like categories -> category
        return word[:-2] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


_STOPWORDS = frozenset(_stem(word) for word in _STOPWORDS_TEXT.split())


def _words(text: str | None) -> tuple[str, ...]:
    """Stemmed lower-case words of `text`, split at punctuation, snake_case and camelCase (stop words kept)."""
    return _cached_words(text) if text else ()


@lru_cache(maxsize=65536)
def _cached_words(text: str) -> tuple[str, ...]:
    words: list[str] = []
    for piece in _PIECES.findall(text):
        parts = _CAMEL.findall(piece) if piece.isascii() else [piece]
        words.extend(_stem(part.lower()) for part in parts if len(part) > 1)
    return tuple(words)


@dataclass
class _Profile:
    """The words of one table, by where they occur."""

    name: list[str]
    columns: set[str]
    comments: set[str]
    samples: set[str]

    def all(self) -> set[str]:
        return set(self.name) | self.columns | self.comments


def _profile(table: TableInfo) -> _Profile:
    columns: set[str] = set()
    comments = set(_words(table.comment))
    samples: set[str] = set()
    for col in table.columns:
        columns.update(_words(col.name))
        comments.update(_words(col.comment))
        for value in col.samples:
            samples.update(_words(value))
    return _Profile(name=list(dict.fromkeys(_words(table.name))), columns=columns, comments=comments, samples=samples)


def _question_weights(question: str) -> dict[str, float]:
    """Question words (weight 1) and their synonyms (weight `_SYNONYM`), stop words left out."""
    weights: dict[str, float] = {}
    for word in _words(question):
        if word in _STOPWORDS:
            continue
        weights[word] = 1.0
        for synonym in _SYNONYMS.get(word, ()):
            weights.setdefault(synonym, _SYNONYM)
    return weights


def _base_scores(tables: list[TableInfo], question: str) -> list[float]:
    """Each table's own lexical score for `question` (before its neighbours' share)."""
    profiles = [_profile(table) for table in tables]
    weights = _question_weights(question)
    df: dict[str, int] = {}
    for profile in profiles:
        for word in profile.all() | profile.samples:
            df[word] = df.get(word, 0) + 1
    n = len(tables)

    def idf(word: str) -> float:
        return math.log((n + 1) / (df.get(word, 0) + 1)) + 1.0

    return [_score(profile, weights, idf) for profile in profiles]


def matched_tables(schema: SchemaInfo, question: str) -> list[tuple[TableInfo, float]]:
    """The tables the question's own words match (without their neighbours' share), best first."""
    base = _base_scores(schema.tables, question)
    order = sorted((i for i in range(len(base)) if base[i] > 0), key=lambda i: (-base[i], i))
    return [(schema.tables[i], round(base[i], 6)) for i in order]


def rank_tables(schema: SchemaInfo, question: str) -> list[tuple[TableInfo, float]]:
    """Tables by relevance to `question`, best first (ties in schema order); scores are >= 0."""
    tables = schema.tables
    n = len(tables)
    base = _base_scores(tables, question)
    index = {table.name: i for i, table in enumerate(tables)}
    neighbours: list[set[int]] = [set() for _ in tables]
    for i, table in enumerate(tables):
        for fk in table.foreign_keys:
            j = index.get(fk.ref_table)
            if j is not None and j != i:
                neighbours[i].add(j)
                neighbours[j].add(i)
    scores = [base[i] + _FK_SHARE * sum(sorted((base[j] for j in neighbours[i]), reverse=True)[:2]) for i in range(n)]
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    return [(tables[i], round(scores[i], 6)) for i in order]


def _score(profile: _Profile, weights: dict[str, float], idf: Callable[[str], float]) -> float:
    """Lexical score of one table; a table name counts in full only when the question covers all its words."""
    name = set(profile.name)
    name_total = sum(idf(word) for word in name) or 1.0
    matched_name = sum(idf(word) for word in name if word in weights)
    coverage = matched_name / name_total
    score = 0.0
    for word, weight in weights.items():
        if word in name:
            score += weight * idf(word) * _NAME * (0.5 + 0.5 * coverage)
        elif word in profile.columns:
            score += weight * idf(word) * _COLUMN
        elif word in profile.comments:
            score += weight * idf(word) * _COMMENT
        elif word in profile.samples:
            score += weight * idf(word) * _SAMPLE
    return score


def _key_columns(table: TableInfo, weights: dict[str, float]) -> list[ColumnInfo]:
    """The columns a trimmed table keeps: keys, and columns whose name, comment or samples match the question."""
    fk_columns = {name for fk in table.foreign_keys for name in fk.columns}
    kept = [
        col
        for col in table.columns
        if col.primary_key
        or col.name in fk_columns
        or any(word in weights for word in _words(col.name))
        or any(word in weights for word in _words(col.comment))
        or any(word in weights for value in col.samples for word in _words(value))
    ]
    return kept or table.columns[:3]


class _Renderings:
    """A table's texts from most to least detailed (0 with samples, 1 without, 2 keys and matching columns only)."""

    def __init__(self, table: TableInfo, weights: dict[str, float], dialect: str, full: str) -> None:
        self.table, self.weights, self.dialect, self.full = table, weights, dialect, full
        self.cut: str | None = None

    @cached_property
    def plain(self) -> str:
        return render_table(self.table, with_samples=False, dialect=self.dialect)

    @cached_property
    def trimmed(self) -> str:
        columns = _key_columns(self.table, self.weights)
        text = render_columns(self.table, columns, with_samples=False, dialect=self.dialect)
        return text if len(text) < len(self.plain) else self.plain

    def text(self, level: int) -> str:
        if level == 0:
            return self.full
        if level == 1:
            return self.plain
        return self.cut if level == 3 and self.cut is not None else self.trimmed

    def cut_to_fit(self, budget: int) -> None:
        """Level 3: as many of the key and matching columns as fit in `budget` characters (at least one)."""
        columns = _key_columns(self.table, self.weights)
        count = len(columns)
        text = render_columns(self.table, columns, with_samples=False, dialect=self.dialect)
        while count > 1 and len(text) > budget:
            count -= 1
            text = render_columns(self.table, columns[:count], with_samples=False, dialect=self.dialect)
        self.cut = text


def _footer(omitted: list[str], room: int) -> str:
    """'-- N more tables not shown: a, b, …' with as many names as fit in `room` characters."""
    head = f"-- {len(omitted)} more table{'s' if len(omitted) > 1 else ''} not shown"
    length, count = len(head) + len(": "), 0
    for index, name in enumerate(omitted):
        more = len(", …") if index + 1 < len(omitted) else 0
        if length + len(name) + more > room:
            break
        length += len(name) + len(", ")
        count += 1
    if count == 0:
        return head
    return head + ": " + ", ".join(omitted[:count]) + (", …" if count < len(omitted) else "")


def whole_schema(schema: SchemaInfo, max_tokens: int) -> str | None:
    """Every table in full detail, in schema order, when that fits in `max_tokens` (else None)."""
    text = _SEP.join(render_table(table, dialect=schema.dialect) for table in schema.tables)
    return text if estimate_tokens(text) <= max_tokens else None


def schema_overview(schema: SchemaInfo, max_tokens: int) -> str | None:
    """Every table on one line with its columns, keys and references (no types, comments or samples), in schema
    order, when that fits in `max_tokens` (else None): the same for every question, unlike a ranked schema."""
    lines = [render_overview(table, dialect=schema.dialect) for table in schema.tables]
    text = OVERVIEW_HEAD + _SEP.join(lines)
    return text if estimate_tokens(text) <= max_tokens else None


OVERVIEW_HEAD = "-- Every table: name(columns); PK = primary key, -> = references\n"


def schema_context(schema: SchemaInfo, question: str | None, *, max_tokens: int = 1500) -> str:
    """Schema text for a prompt within `max_tokens` (by `estimate_tokens`). Deterministic.

    The whole schema, in schema order, when it fits (a stable prompt prefix lets llama.cpp reuse its cache).
    Otherwise the tables ranked for `question` (schema order without one), shown in rank order:
    1. the top table and the relevant ones (score >= half the top score) are chosen with keys and matching
       columns only, while they fit (the top table always, cut to its first columns if it must);
    2. in rank order, the chosen tables get back their other columns, then (again in rank order) their samples;
    3. the remaining tables follow in rank order, each in the most detail that still fits.
    So lower-ranked tables lose samples and columns before a relevant table is dropped. A last line counts
    (and names, as far as room allows) the tables left out.
    """
    dialect = schema.dialect
    fulls = [render_table(table, dialect=dialect) for table in schema.tables]
    if estimate_tokens(_SEP.join(fulls)) <= max_tokens:
        return _SEP.join(fulls)
    budget = int(max_tokens * CHARS_PER_TOKEN)
    positions = {id(table): i for i, table in enumerate(schema.tables)}
    if question and question.strip():
        pairs = rank_tables(schema, question)
        ranked, scores = [table for table, _ in pairs], [score for _, score in pairs]
    else:
        ranked, scores = list(schema.tables), [0.0] * len(schema.tables)
    weights = _question_weights(question or "")
    texts = [_Renderings(table, weights, dialect, fulls[positions[id(table)]]) for table in ranked]
    packer = _Packer(texts, budget - len(_SEP) - len(f"-- {len(ranked)} more tables not shown"))

    if not packer.add(0, levels=(2,)):
        texts[0].cut_to_fit(packer.budget)
        packer.force(0, 3)
    for i in range(1, len(ranked)):
        if scores[i] > 0 and scores[i] >= _RELEVANT * scores[0]:
            packer.add(i, levels=(2,))
    packer.upgrade()
    for i in range(1, len(ranked)):
        if i not in packer.levels and packer.room() > _MIN_TABLE_CHARS and packer.add(i, levels=(2,)):
            packer.upgrade_one(i)
    shown = sorted(packer.levels)
    body = _SEP.join(texts[i].text(packer.levels[i]) for i in shown)
    omitted = [ranked[i].name for i in range(len(ranked)) if i not in packer.levels]
    if not omitted:
        return body
    return body + _SEP + _footer(omitted, budget - len(body) - len(_SEP))


class _Packer:
    """Chosen tables (by rank) with a detail level each, within a budget of characters."""

    def __init__(self, texts: list[_Renderings], budget: int) -> None:
        self.texts = texts
        self.budget = budget
        self.levels: dict[int, int] = {}
        self.used = -len(_SEP)  # the separators between the chosen texts

    def _cost(self, i: int, level: int) -> int:
        """Characters used once table `i` is at `level` (added, or changed from its current level)."""
        current = len(self.texts[i].text(self.levels[i])) if i in self.levels else -len(_SEP)
        return self.used - current + len(self.texts[i].text(level))

    def _set(self, i: int, level: int) -> None:
        self.used = self._cost(i, level)
        self.levels[i] = level

    def room(self) -> int:
        return self.budget - self.used

    def add(self, i: int, *, levels: tuple[int, ...]) -> bool:
        """Choose table `i` at the first of `levels` that fits; False if none does."""
        for level in levels:
            if self._cost(i, level) <= self.budget:
                self._set(i, level)
                return True
        return False

    def force(self, i: int, level: int) -> None:
        """Choose table `i` at `level` whatever it costs."""
        self._set(i, level)

    def upgrade_one(self, i: int, targets: tuple[int, ...] = (0, 1)) -> None:
        """Give table `i` the most detail among `targets` that fits."""
        for target in targets:
            if self.levels[i] > target and self._cost(i, target) <= self.budget:
                self._set(i, target)
                return

    def upgrade(self) -> None:
        """Give the chosen tables all their columns, then their samples, best-ranked first, while it fits."""
        for target in (1, 0):
            for i in sorted(self.levels):
                self.upgrade_one(i, (target,))

"""Figures as Chinese press releases write them, and any written figure (Chinese or English)
read back as the range of values it states."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

# Below this a figure is written exactly: counts a release can state to the unit (822 cases).
EXACT_BELOW = 1000
WAN, YI = 10**4, 10**8
MULTIPLIERS = {
    "千": 10**3,
    "万": WAN,
    "亿": YI,
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
}
# Words that make a figure a lower bound, or an approximation.
MORE = frozenset(
    {"余", "多", "超过", "超", "逾", "more than", "over", "exceeded", "exceeding", "above"}
)
ABOUT = frozenset(
    {"约", "近", "左右", "about", "around", "approximately", "nearly", "almost", "some"}
)
SMALL = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def zh_number(n: int) -> str:
    """A count as a Chinese release writes it.

    Below 1,000 the figure is exact ("822"). From 1,000 it keeps two significant digits and
    says "余" (more than) when anything was cut off, as the seed release does: 4,812 ->
    "4800余", 400,321 -> "40余万", 153,000 -> "15万余", 8,123,456 -> "810余万", 20,345,678
    -> "2000余万", 53,210 -> "5.3万余". The kept figure is written in 亿 from 1亿, in 万 from
    1万 (with one decimal when its second digit falls there: "5.3万"), else plainly. Where
    "余" goes is the grammar of the language: after a figure ending in 0 and before its unit
    ("40余万", "4800余", "2000余万"), after the unit when the figure ends in another digit
    ("15万余", "5万余", "5.3万余"). An exact figure has no "余" ("1300", "20万").
    """
    if n < 0:
        raise ValueError("a count is not negative")
    if n < EXACT_BELOW:
        return str(n)
    cut = len(str(n)) - 2
    kept = n // 10**cut * 10**cut
    more = kept != n
    unit, size = ("亿", YI) if kept >= YI else ("万", WAN) if kept >= WAN else ("", 1)
    figure = _plain(Decimal(kept) / size)
    if not more:
        return f"{figure}{unit}"
    if figure.endswith("0") or not unit:
        return f"{figure}余{unit}"
    return f"{figure}{unit}余"


def _plain(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Range:
    """The values a written figure states: low <= value < high."""

    low: int
    high: int

    def holds(self, value: int) -> bool:
        return self.low <= value < self.high

    def describe(self, scale: int = 1) -> str:
        """In words, in the figure's own unit (value / scale)."""
        low, high = self.low / scale, (self.high - 1) / scale
        if self.high - self.low <= 1:
            return f"{_grouped(low)}"
        return f"{_grouped(max(low, 0))} to {_grouped(high)}"


def _grouped(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) else f"{x:,.2f}"


def read(number: str, multiplier: str = "", qualifier: str = "", scale: int = 1) -> Range:
    """The range a written figure states: number as written ("4,800", "5.3", "40"), its
    multiplier ("万", "million", ""), its qualifier ("余", "more than", "约", ""), in units
    of 1/scale (yuan read in fen: scale 100). A ValueError when the number is not one.

    The figure's precision is its last significant digit (its place: 10 for "40", 100 for
    "4800", 0.1 for "5.3"; times its multiplier). "More than" (余, 多, over, ...) states the
    figure up to one place more ("40余万": 400,000 to 499,999; "15万余": 150,000 to
    159,999); "about" (约, 近, nearly, ...) one place either way; a plain figure is rounded
    to its place ("1200": 1,150 to 1,249; "822": 822 only)."""
    digits = number.replace(",", "").strip()
    try:
        value = Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"not a number: {number!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a number: {number!r}")
    if "." in digits:
        place = Decimal(1).scaleb(-len(digits.split(".")[1]))
    else:
        stripped = digits.lstrip("0") or "0"
        place = Decimal(10) ** (len(stripped) - len(stripped.rstrip("0")) if value else 0)
    size = Decimal(MULTIPLIERS.get(multiplier.lower(), 1)) * scale
    low, step = value * size, place * size
    q = qualifier.strip().lower()
    if q in MORE:
        lo, hi = low, low + step
    elif q in ABOUT:
        lo, hi = low - step, low + step
    else:
        lo, hi = low - step / 2, low + step / 2
    return Range(_ceil(lo), _ceil(hi))


def _ceil(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_CEILING))


def small(word: str) -> int:
    """A small whole number written in digits or Chinese numerals (六, 十二, 两, 二十):
    1 to 99. A ValueError otherwise."""
    if word.isdigit():
        return int(word)
    if not word or any(c not in SMALL and c != "十" for c in word) or word.count("十") > 1:
        raise ValueError(f"not a small number: {word!r}")
    if "十" not in word:
        if len(word) != 1:
            raise ValueError(f"not a small number: {word!r}")
        return SMALL[word]
    tens, _, units = word.partition("十")
    if len(tens) > 1 or len(units) > 1:
        raise ValueError(f"not a small number: {word!r}")
    return (SMALL[tens] if tens else 1) * 10 + (SMALL[units] if units else 0)

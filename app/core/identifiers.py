"""One rule for names: a formula's names and a graph's node ids.

1. **NFKC.** Names are compared in Unicode's NFKC form, which folds compatibility variants
   into the plain character: fullwidth ``ｘ`` is ``x``, ``x²`` is ``x2``. A formula's names are
   NFKC-normalised (Python does this to every identifier it parses); a graph's ids are the
   client's own keys, so they are never rewritten: an id that NFKC would change is refused,
   with its normal form in the message.
2. **Nothing invisible or reordering.** No lone surrogate (not a character at all), control
   character (C0, DEL, C1) or format character: the bidirectional overrides, embeddings,
   isolates and marks (U+202A-202E, U+2066-2069, U+200E/F, U+061C) and invisible ones such as
   U+200B. Only the zero-width (non-)joiners U+200C/D, which some scripts need, are allowed in a
   name. Labels, shown as text, follow this rule too.
3. **One script per name.** The letters of a name come from one script (digits, ``_`` and
   combining marks count for none), except the combinations Unicode's "highly restrictive"
   profile (UTS #39) allows: Latin with Han, Hiragana and Katakana (Japanese: ``重みw``), with
   Han and Bopomofo, or with Han and Hangul. ``xх`` (Latin x, Cyrillic х) is refused.
4. **No look-alikes.** A name with a non-ASCII character that reads as another name of the same
   formula or graph, once each character is replaced by the ASCII character Unicode's
   confusables.txt says it is confused with, is refused: Cyrillic ``х`` beside Latin ``x``.
   Two ASCII names are never look-alikes here (``l1`` and ``ll`` are typed on purpose).

The script and confusable data are those of the confusable-homoglyphs package, loaded only
when a name is not ASCII.
"""

from __future__ import annotations

import unicodedata

JOINERS = frozenset("\u200c\u200d")
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e") | frozenset(
    "\u2066\u2067\u2068\u2069"
)
NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED"})
ALLOWED_SCRIPT_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def is_unsafe(ch: str) -> bool:
    """A lone surrogate, a control or a format character (other than the joiners)."""
    category = unicodedata.category(ch)
    return category in ("Cs", "Cc") or (category == "Cf" and ch not in JOINERS)


def unsafe_character(text: str) -> int | None:
    """The index of the first character rule 2 refuses, or None."""
    if text.isascii() and text.isprintable():
        return None
    for i, ch in enumerate(text):
        if is_unsafe(ch):
            return i
    return None


def describe_character(ch: str) -> str:
    """U+202E RIGHT-TO-LEFT OVERRIDE (a bidirectional-override character), and so on."""
    code = f"U+{ord(ch):04X}"
    category = unicodedata.category(ch)
    if category == "Cs":
        return f"{code} (a lone surrogate, which is not a character)"
    name = unicodedata.name(ch, "")
    named = f"{code} {name}" if name else code
    if category == "Cc":
        return f"{named} (a control character)"
    if ch in BIDI_CONTROLS:
        return f"{named} (a bidirectional-override character)"
    return f"{named} (an invisible formatting character)"


def escape_unsafe(text: str) -> str:
    """The text with each character rule 2 refuses written as an escape (\\u202e), so that an
    error message can name what was sent and stay valid UTF-8."""
    if unsafe_character(text) is None:
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if is_unsafe(ch) else ch for ch in text
    )


def character_problem(text: str) -> str | None:
    """Why rule 2 refuses the text (which character, where), or None."""
    i = unsafe_character(text)
    if i is None:
        return None
    return f"contains {describe_character(text[i])} at position {i + 1}"


def nfkc(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


def script_problem(name: str) -> str | None:
    """Why rule 3 refuses the name (which scripts it mixes), or None."""
    if name.isascii():
        return None
    from confusable_homoglyphs import categories

    scripts = {categories.alias(ch) for ch in name} - NEUTRAL_SCRIPTS
    if len(scripts) <= 1 or any(scripts <= allowed for allowed in ALLOWED_SCRIPT_MIXES):
        return None
    shown = " and ".join(sorted(s.capitalize() for s in scripts))
    return (
        f"mixes {shown} letters; a name uses one script (Latin may go with Japanese, Chinese "
        "or Korean), so that two names that look alike are not two names"
    )


def skeleton(name: str) -> str:
    """The name with each non-ASCII character replaced by the ASCII character it is confused
    with (Cyrillic х by x), after NFKC."""
    name = nfkc(name)
    if name.isascii():
        return name
    from confusable_homoglyphs import confusables

    table = confusables.confusables_data
    out = []
    for ch in name:
        if not ch.isascii():
            ascii_like = [
                h["c"] for h in table.get(ch, ()) if len(h["c"]) == 1 and h["c"].isascii()
            ]
            ch = min(ascii_like) if ascii_like else ch
        out.append(ch)
    return "".join(out)


class Lookalikes:
    """The names seen so far by skeleton: rule 4 across one formula or one graph."""

    def __init__(self) -> None:
        self.by_skeleton: dict[str, str] = {}
        self.any_non_ascii = False
        self.ascii_names: list[str] = []

    def add(self, name: str) -> str | None:
        """Record the name; the earlier name it looks like, or None."""
        if name.isascii():
            if not self.any_non_ascii:
                self.ascii_names.append(name)  # compared only once a non-ASCII name comes
                return None
            return self._add(name)
        if not self.any_non_ascii:
            self.any_non_ascii = True
            for earlier in self.ascii_names:
                self.by_skeleton.setdefault(earlier, earlier)
            self.ascii_names = []
        return self._add(name)

    def _add(self, name: str) -> str | None:
        key = skeleton(name)
        earlier = self.by_skeleton.setdefault(key, name)
        if earlier != name and not (earlier.isascii() and name.isascii()):
            return earlier
        return None


def lookalike_message(name: str, earlier: str) -> str:
    """Rule 4's message: the two names and the characters that make them look alike."""

    def named(ch: str) -> str:
        return unicodedata.name(ch, f"U+{ord(ch):04X}").lower()

    differing = [
        f"{named(a)} beside {named(b)}" for a, b in zip(name, earlier, strict=False) if a != b
    ]
    detail = f" ({'; '.join(differing[:3])})" if differing else ""
    return (
        f"{name!r} looks like {earlier!r}, another name here{detail}; use one of them, or "
        "another name"
    )

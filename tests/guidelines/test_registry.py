from collections.abc import Iterator

from review.guidelines import Finding, Opt, TextRule, blocking, register, registered_types
from review.guidelines.testing import hits, one_rule


def test_builtins_registered():
    assert set(registered_types()) == {
        "existence",
        "substitution",
        "required",
        "occurrence",
        "capitalization",
        "readability",
        "claims",
        "pii",
        "sensitive",
        "leak",
        "grounding",
        "conditional",
        "budget",
        "fixed",
        "length",
        "mention",
        "relevance",
        "contradiction",
        "repetition",
        "persona",
        "question",
        "superlative",
    }


def test_extension_registers_through_the_same_door(tmp_path):
    @register("testonly_palindrome")
    class Palindrome(TextRule):
        summary = "Flags palindromes."
        options = {"min": Opt("int", default=3)}

        def setup(self, opts, env):
            self.min = opts["min"]

        def check_text(self, st) -> Iterator[Finding]:
            for w in st.original.split():
                if len(w) >= self.min and w.lower() == w.lower()[::-1]:
                    i = st.original.index(w)
                    yield self.finding(st, (i, i + len(w)), w, w)

    assert registered_types()["testonly_palindrome"] is Palindrome
    rs = one_rule(tmp_path, "extends: testonly_palindrome\nmin: 4\nmessage: 'Palindrome %s'\n")
    assert [(f.match, f.message, f.level) for f in hits(rs, "a level kayak ada")] == [
        ("level", "Palindrome level", "warning"),
        ("kayak", "Palindrome kayak", "warning"),
    ]


def test_finding_round_trip_and_blocking():
    f = Finding("a.b", "error", "m", "x", (1, 2), "slot", slot="s", suggestion="y", link="l", claim_id="C")
    d = f.to_dict()
    assert d["span"] == [1, 2] and Finding.from_dict(d) == f
    assert blocking([f, Finding("a.c", "warning", "m", "", None, "message")]) == [f]

"""The kit holds generic plumbing only: no word of the domain appears in its code, comments or migrations."""

import re
from pathlib import Path

KIT = Path(__file__).resolve().parents[2] / "services" / "kit"
DOMAIN_WORDS = ("family", "families", "assessment", "plan", "consent", "grant", "override", "child")
# OAuth2's own parameter, which the kit's token client must send by that name.
ALLOWED = ("grant_type",)
# Whole words, and the parts of snake_case and camelCase names: `family_id` and `familyid` both count.
DOMAIN = re.compile(r"(?i)(?<![a-z])(" + "|".join(DOMAIN_WORDS) + r")(s|ren)?(?![a-z])|familyid")


def domain_words_in(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".py", ".mako", ".md"} or "__pycache__" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for allowed in ALLOWED:
                line = line.replace(allowed, "")
            if match := DOMAIN.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {match.group(0)}")
    return found


def test_the_kit_speaks_no_domain_word() -> None:
    assert domain_words_in(KIT) == []


def test_the_check_finds_a_domain_word(tmp_path: Path) -> None:
    (tmp_path / "outbox.py").write_text('"""Relays events."""\nfamily_id = event["familyid"]  # the Plans\n')
    assert domain_words_in(tmp_path) == ["outbox.py:2: family"]

#!/usr/bin/env python3
"""How many of the names a translation should carry over it does: the words of each source
that `data.names` (src/data/names.rs, `carried_names`) counts as names — capitalised, all
letters, two or more, not the first word of a sentence — and that its reference holds as a
whole word; of those, the share the translation holds as a whole word too.

    python3 scripts/names-copied.py SOURCES REFERENCES TRANSLATIONS [MORE_TRANSLATIONS ...]

Each file a sentence a line, as `eval --output` writes them (STEM.src, STEM.ref, STEM.hyp).
"""
import re
import sys


def names(source):
    """The names of `source`, as `carried_names` finds them (before the target is consulted)."""
    found, sentence_start = [], True
    for word in source.split():
        name = re.sub(r"^[\W_]+|[\W_]+$", "", word)
        first, sentence_start = sentence_start, word.endswith((".", "!", "?", ":"))
        if (first or len(name) < 2 or not name.isalpha() or not name[0].isupper()
                or name in found):
            continue
        found.append(name)
    return found


def whole(word, text):
    return re.search(r"(?<![^\W_])" + re.escape(word) + r"(?![^\W_])", text) is not None


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sources, references = (open(p, encoding="utf-8").read().splitlines() for p in sys.argv[1:3])
    for path in sys.argv[3:]:
        translations = open(path, encoding="utf-8").read().splitlines()
        if not len(sources) == len(references) == len(translations):
            sys.exit(f"{path}: {len(translations)} lines against {len(sources)} sources "
                     f"and {len(references)} references")
        carried = copied = 0
        for source, reference, translation in zip(sources, references, translations):
            for name in names(source):
                if whole(name, reference):
                    carried += 1
                    copied += whole(name, translation)
        print(f"{path}: {copied} of {carried} names carried over ({100 * copied / max(carried, 1):.1f} %)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Checks the links of the project's Markdown documents: every relative link
must name a file or folder inside the repository (anchors and web links are
not followed). A clone must be readable on its own: no link may leave it.

    scripts/check-links.py            # README, CONTRIBUTING, SECURITY, CHANGELOG, docs/, deploy/
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*```")


def documents():
    for name in ["README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md"]:
        yield ROOT / name
    for folder in ["docs", "deploy"]:
        yield from sorted((ROOT / folder).rglob("*.md"))


def links(path):
    inside_code = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            inside_code = not inside_code
            continue
        if inside_code:
            continue
        for match in LINK.finditer(line):
            yield number, match.group(1)


def main():
    problems = []
    checked = 0
    for doc in documents():
        for number, target in links(doc):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a web or mail link, or an anchor in the page
            checked += 1
            file_part = target.split("#", 1)[0]
            resolved = (doc.parent / file_part).resolve()
            where = f"{doc.relative_to(ROOT)}:{number}: {target}"
            if ROOT not in resolved.parents and resolved != ROOT:
                problems.append(f"{where}: leaves the repository")
            elif not resolved.exists():
                problems.append(f"{where}: no such file")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"check-links: {checked} relative links, {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

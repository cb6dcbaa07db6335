#!/usr/bin/env python3
"""Makes the guides' links work on the docs site, then checks every one.

The guides are the repository's Markdown files, rendered by rustdoc as the
modules of `src/guide.rs`. A link that works in the repository
(`docs/authentication.md`, `.env.example`) does not on the site, where each
guide is `target/doc/backend/guide/<module>/index.html`. This rewrites such
links: to a guide, its page (the fragment kept); to any other file of the
repository, a copy of it under `target/doc/files/`. Then every relative link
in the guides' text must name a file of the site: exit 1 listing those that
do not.

Run by `make docs-build` after `cargo doc`.
"""

import html
import os
import re
import shutil
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
SITE = os.path.join(ROOT, "target", "doc")
GUIDES = os.path.join(SITE, "backend", "guide")
FILES = "files"
# A guide page is target/doc/backend/guide/<module>/index.html.
TO_SITE_ROOT = "../../../"

HREF = re.compile(r'href="([^"]*)"')


def guide_sources():
    """Module name -> the Markdown file (repository path) it renders."""
    text = open(os.path.join(ROOT, "src", "guide.rs"), encoding="utf-8").read()
    pairs = re.findall(r'include_str!\("\.\./([^"]+)"\)\]\s*pub mod (\w+)', text)
    return {module: path for path, module in pairs}


def is_markdown_link(href):
    """A link written in a guide's Markdown (rustdoc's own start with ../)."""
    return not (
        href == ""
        or href.startswith(("#", "../", "http:", "https:", "mailto:", "/"))
    )


def rewrite(module, source, page, pages, problems):
    """Rewrites the guide `module`'s links (its text is at `source`)."""
    text = open(page, encoding="utf-8").read()
    start = text.find('class="docblock"')
    if start < 0:
        return
    head, body = text[:start], text[start:]

    def fix(match):
        href = html.unescape(match.group(1))
        if not is_markdown_link(href):
            return match.group(0)
        path, _, fragment = href.partition("#")
        fragment = "#" + fragment if fragment else ""
        target = os.path.normpath(os.path.join(os.path.dirname(source), path))
        if target in pages:
            new = f"../{pages[target]}/index.html{fragment}"
        elif os.path.isfile(os.path.join(ROOT, target)) and not target.startswith(".."):
            copy = os.path.join(SITE, FILES, target)
            os.makedirs(os.path.dirname(copy), exist_ok=True)
            shutil.copyfile(os.path.join(ROOT, target), copy)
            new = f"{TO_SITE_ROOT}{FILES}/{target}{fragment}"
        else:
            problems.append(f"{module}: {href} (from {source}) names no file of the repository")
            return match.group(0)
        return f'href="{html.escape(new)}"'

    body = HREF.sub(fix, body)
    open(page, "w", encoding="utf-8").write(head + body)


def check(module, page, problems):
    """Every relative link in the guide's text names a file of the site."""
    text = open(page, encoding="utf-8").read()
    start = text.find('class="docblock"')
    for href in HREF.findall(text[start:]):
        href = html.unescape(href)
        if href.startswith(("#", "http:", "https:", "mailto:")) or href == "":
            continue
        path = href.partition("#")[0]
        target = os.path.normpath(os.path.join(os.path.dirname(page), path))
        if not os.path.exists(target):
            problems.append(f"{module}: {href} leads nowhere on the site")


def main():
    pages = {path: module for module, path in guide_sources().items()}
    if not pages:
        sys.exit("site-links: no guide modules found in src/guide.rs")
    problems = []
    for path, module in pages.items():
        page = os.path.join(GUIDES, module, "index.html")
        if not os.path.isfile(page):
            problems.append(f"{module}: no page at {page} (run cargo doc first)")
            continue
        rewrite(module, path, page, pages, problems)
    for module in sorted(os.listdir(GUIDES)):
        page = os.path.join(GUIDES, module, "index.html")
        if os.path.isfile(page):
            check(module, page, problems)
    if problems:
        print("site-links: broken links on the docs site:", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        sys.exit(1)
    print(f"site-links: the {len(pages)} guides' links lead to pages or files of the site")


if __name__ == "__main__":
    main()

"""The project's Markdown never sends a reader to a file the repository does not hold.

Checked in README.md, docs/ and every Markdown file under the source and test folders
(tests/fixtures/README.md): a relative link must name a file or folder inside the repository,
and a link to a heading of a Markdown file must name a heading it has (GitHub's anchors); a
repository path written as code (`events/states.py`, `tests/fixtures/<channel>/`) must exist;
and none of them may name the reference material kept outside the repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Kept outside the repository: a reader of the repository cannot open them. Say it in docs/.
OUTSIDE = ("FACTS.md", "CONTRACT.md", "DESIGN.md", "../shared", "/work/shared")

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target "title"), ![alt](target); the text may hold one level of [brackets].
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)"
)
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
_HTML_LINK = re.compile(r"""(?:href|src)=["']([^"']+)["']""")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_files(root: Path = ROOT) -> list[Path]:
    found = {root / "README.md", *(root / "docs").rglob("*.md")}
    for folder in ("events", "storage", "tests", "benchmarks", "examples", "alembic"):
        found.update((root / folder).rglob("*.md"))
    return sorted(p for p in found if p.is_file())


def _lines_outside_code(text: str) -> list[str]:
    """The file's lines with fenced code blocks blanked (line numbers stay right)."""
    out: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            out.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            out.append("")
        else:
            out.append(line)
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, tags and punctuation dropped, lower case,
    spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    for line in _lines_outside_code(path.read_text(encoding="utf-8")):
        out.update(_HTML_ANCHOR.findall(line))
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link and image, outside code."""
    found: list[tuple[int, str]] = []
    for number, line in enumerate(_lines_outside_code(path.read_text(encoding="utf-8")), 1):
        prose = _CODE_SPAN.sub("", line)
        for pattern in (_INLINE_LINK, _REFERENCE, _HTML_LINK):
            found += [(number, target) for target in pattern.findall(prose)]
    return found


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def link_problems(path: Path, root: Path = ROOT) -> list[str]:
    problems: list[str] = []
    name = path.relative_to(root)
    for number, target in links(path):
        if not target or _SCHEME.match(target) or target.startswith("//"):
            continue  # an external address (or an empty link, which is not ours to judge)
        file_part, _, fragment = target.partition("#")
        if not file_part:
            dest = path
        elif file_part.startswith("/"):
            dest = root / unquote(file_part).lstrip("/")
        else:
            dest = path.parent / unquote(file_part)
        where = f"{name}:{number}: {target}"
        if not _inside(dest, root):
            problems.append(f"{where} points outside the repository")
        elif not dest.exists():
            problems.append(f"{where} names a file that is not in the repository")
        elif fragment and dest.suffix == ".md" and unquote(fragment) not in anchors(dest):
            problems.append(f"{where}: {dest.relative_to(root)} has no heading #{fragment}")
    return problems


def _path_like(span: str) -> bool:
    return "/" in span and not re.search(r"\s|://|[{}=@$]", span) and not span.startswith("/")


def code_path_problems(path: Path, root: Path = ROOT) -> list[str]:
    """A code span that starts with a folder of the repository (or of the file's own folder)
    names something that exists; <placeholder> and * parts match any name."""
    problems: list[str] = []
    name = path.relative_to(root)
    for number, line in enumerate(_lines_outside_code(path.read_text(encoding="utf-8")), 1):
        for _, span in _CODE_SPAN.findall(line):
            span = span.strip().removeprefix("./")
            if not _path_like(span):
                continue
            first = span.split("/", 1)[0]
            bases = [b for b in (root, path.parent) if first and (b / first).is_dir()]
            if not bases:
                continue  # not a path of the repository (a URL path, a path under ~, ...)
            pattern = re.sub(r"<[^>]+>", "*", span).rstrip("/")
            if not any(list(base.glob(pattern)) for base in bases):
                problems.append(f"{name}:{number}: `{span}` is not in the repository")
    return problems


def outside_mentions(path: Path, root: Path = ROOT) -> list[str]:
    name = path.relative_to(root)
    return [
        f"{name}:{number}: names {word}, which is not in the repository"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for word in OUTSIDE
        if word in line
    ]


MARKDOWN = markdown_files()


def test_the_files_checked_include_the_readme_the_docs_and_the_fixtures_readme() -> None:
    names = {str(p.relative_to(ROOT)) for p in MARKDOWN}
    assert {
        "README.md",
        "docs/README.md",
        "docs/infobip.md",
        "docs/membrane.md",
        "tests/fixtures/README.md",
    } <= names


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_in_the_repository(path: Path) -> None:
    problems = link_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_written_as_code_exists(path: Path) -> None:
    problems = code_path_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_outside_the_repository_is_named(path: Path) -> None:
    problems = outside_mentions(path)
    assert not problems, "\n".join(problems)


def test_the_docs_index_links_every_docs_page() -> None:
    linked = {
        (ROOT / "docs" / target.partition("#")[0]).resolve()
        for _, target in links(ROOT / "docs" / "README.md")
        if target.partition("#")[0]
    }
    pages = {p.resolve() for p in (ROOT / "docs").glob("*.md") if p.name != "README.md"}
    assert pages <= linked, f"not in docs/README.md: {sorted(p.name for p in pages - linked)}"


# ---- the checker itself -----------------------------------------------------------------------


def test_the_checker_finds_each_kind_of_broken_link(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "states.py").write_text("")
    (tmp_path / "docs" / "page.md").write_text("# A page\n\n## Status groups: 1 to 5\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "[ok](docs/page.md#status-groups-1-to-5) [self](#top) [web](https://example.com)\n"
        "[gone](docs/missing.md) [bad anchor](docs/page.md#nope) [out](../shared/x.md)\n"
        "`[not a link](nowhere.md)` `events/states.py` `events/gone.py` `/webhooks/sms`\n"
        "```\n[in a code block](nowhere.md)\n```\n"
        "# Top\n"
        "See FACTS.md.\n"
    )
    assert link_problems(readme, tmp_path) == [
        "README.md:2: docs/missing.md names a file that is not in the repository",
        "README.md:2: docs/page.md#nope: docs/page.md has no heading #nope",
        "README.md:2: ../shared/x.md points outside the repository",
    ]
    assert code_path_problems(readme, tmp_path) == [
        "README.md:3: `events/gone.py` is not in the repository"
    ]
    assert [p.split(": names ")[1] for p in outside_mentions(readme, tmp_path)] == [
        "../shared, which is not in the repository",
        "FACTS.md, which is not in the repository",
    ]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("One URL for everything: `/webhooks/auto`", "one-url-for-everything-webhooksauto"),
        ("Error groups and `permanent`", "error-groups-and-permanent"),
        ("Batches, content types and the answer", "batches-content-types-and-the-answer"),
        ("Confirmed: the HTTP API", "confirmed-the-http-api"),
        ("Rules: auto-replies, fallbacks, alerts", "rules-auto-replies-fallbacks-alerts"),
    ],
)
def test_anchors_are_githubs(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor

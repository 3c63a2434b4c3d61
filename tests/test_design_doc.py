"""docs/design.md is the design of record: shipped files cite it, nothing outside the repository,
and every ``docs/design.md §N`` reference names a section it has."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"
UNSHIPPED = ("tests/", "benchmarks/")  # not installed, not read by users of the package
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)*)\.? +(.+)$", re.M)
# the document's name, then one "§N" (or "§N.M") or several joined by ", ", " and " or a dash
REFERENCE = re.compile(r"docs/design\.md ((?:§\d+(?:\.\d+)*)(?:(?:, | and |–|-)§\d+(?:\.\d+)*)*)")
SECTION = re.compile(r"§(\d+(?:\.\d+)*)")


def tracked_files() -> dict[str, bytes]:
    """Every file ``git ls-files`` lists, by repository path (skips outside a git checkout)."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git not found on PATH: cannot list the tracked files")
    proc = subprocess.run([git, "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"not a git checkout: {proc.stderr.decode(errors='replace').strip()}")
    files = {}
    for name in proc.stdout.decode("utf-8").split("\0"):
        path = ROOT / name
        if name and path.is_file():  # a deleted but still tracked file has nothing to check
            files[name] = path.read_bytes()
    return files


def shipped_files() -> dict[str, bytes]:
    return {n: data for n, data in tracked_files().items() if not n.startswith(UNSHIPPED)}


def occurrences(files: dict[str, bytes], needle: str) -> list[str]:
    """``path:line`` of every line that contains ``needle``."""
    raw = needle.encode("utf-8")
    found = []
    for name, data in sorted(files.items()):
        if raw in data:
            for number, line in enumerate(data.split(b"\n"), 1):
                if raw in line:
                    found.append(f"{name}:{number}")
    return found


def design_sections() -> dict[str, str]:
    """Section number -> title, from the headings of docs/design.md."""
    return {m.group(1): m.group(2).strip() for m in HEADING.finditer(DESIGN.read_text("utf-8"))}


def unresolved_references(text: str, sections: dict[str, str]) -> list[str]:
    """The ``§N`` of every ``docs/design.md §N`` reference in ``text`` that is not a section."""
    return [
        f"§{number}"
        for ref in REFERENCE.finditer(text)
        for number in SECTION.findall(ref.group(1))
        if number not in sections
    ]


@pytest.mark.parametrize("needle", ["DESIGN.md", "../shared"])
def test_shipped_files_refer_to_nothing_outside_the_repository(needle):
    found = occurrences(shipped_files(), needle)
    assert not found, f"{needle!r} refers outside the repository in: {', '.join(found)}"


def test_shipped_files_cite_design_md_not_design_sections():
    needle = "DESIGN" + " §"  # spelled in two parts, so that this file does not hold it
    found = occurrences(shipped_files(), needle)
    assert not found, f"{needle!r} (use 'docs/design.md §N') in: {', '.join(found)}"


def test_design_has_the_numbered_sections_the_code_cites():
    sections = design_sections()
    top = [n for n in sections if "." not in n]
    # numbered 1.. without gaps (new concepts add sections), at least the nine of the start
    assert top == [str(n) for n in range(1, len(top) + 1)] and len(top) >= 9, top
    # the code's references were written against these topics: §N must keep meaning the same
    topics = {"2": "semantics", "3": "model file", "4": "training", "5": "export",
              "6": "microcontroller targets"}
    for number, word in topics.items():
        assert word in sections[number].lower(), (number, sections[number])


def test_unresolved_references_are_found():
    sections = {"2": "Network semantics", "4": "Training", "4.1": "Rows"}
    doc = "docs/design.md"  # not written out with a section, so this file cites nothing itself
    text = (f"see {doc} §4 and {doc} §2–§7; {doc} §4.1, §4.2 and §9\n"
            f"{doc} §12 (not §2)")
    assert unresolved_references(text, sections) == ["§7", "§4.2", "§9", "§12"]


def test_every_design_reference_names_an_existing_section():
    sections = design_sections()
    bad = []
    for name, data in sorted(tracked_files().items()):
        text = data.decode("utf-8", errors="replace")
        bad += [f"{name}: docs/design.md {ref}" for ref in unresolved_references(text, sections)]
    assert not bad, f"references to sections docs/design.md does not have: {'; '.join(bad)}"

"""`keylab scan` over generated corpora: every location and key shape found, every decoy ignored,
sandbox keys never called real, history scanned on a temporary repository, and the three formats.

No file in the repository holds a real-shaped key: the corpus is written into tmp_path at test time.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from keylab.cli import main
from keylab.keys import SANDBOX_MARKER, spells_placeholder_words
from keylab.scan import scan_history, scan_paths
from keylab.scan.corpus import DECOYS, KEY_SHAPES, LOCATIONS, build_corpus, make_key
from keylab.scan.detect import find_keys, fingerprint, masked_excerpt

RNG_SEED = 11


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("corpus")
    planted = build_corpus(root, seed=RNG_SEED)
    return root, planted, scan_paths([root], root)


@pytest.mark.parametrize("location", list(LOCATIONS))
@pytest.mark.parametrize("shape", list(KEY_SHAPES))
def test_every_location_and_shape_is_found(corpus, location: str, shape: str) -> None:
    root, planted, findings = corpus
    (item,) = [p for p in planted if p.location == location and p.shape == shape and not p.sandbox]
    hits = [f for f in findings if f.path == item.path]
    assert [(f.kind, f.fingerprint) for f in hits] == [("real", fingerprint(item.key))]
    assert hits[0].masked == f"{KEY_SHAPES[shape][0]}...{item.key[-4:]}"
    assert hits[0].line >= 1


@pytest.mark.parametrize("decoy", list(DECOYS))
def test_decoys_are_not_findings(corpus, decoy: str) -> None:
    root, planted, findings = corpus
    (item,) = [p for p in planted if p.location == decoy]
    assert [f for f in findings if f.path == item.path] == []
    assert find_keys((root / item.path).read_text()) == []


@pytest.mark.parametrize("location", list(LOCATIONS))
def test_sandbox_keys_are_reported_as_sandbox_never_real(corpus, location: str) -> None:
    root, planted, findings = corpus
    (item,) = [p for p in planted if p.location == location and p.sandbox]
    assert [f.kind for f in findings if f.path == item.path] == ["sandbox"]


def test_no_output_holds_a_full_key(corpus) -> None:
    root, planted, findings = corpus
    everything = json.dumps([f.to_dict() for f in findings])
    assert all(p.key[12:-4] not in everything for p in planted if p.key)


def test_notebook_findings_name_the_cell(corpus) -> None:
    root, planted, findings = corpus
    by_location = {p.location: p.path for p in planted if p.shape == "project" and not p.sandbox}
    where = {f.path: f.where for f in findings}
    assert where[by_location["notebook stream output"]] == "cell 1"
    assert where[by_location["notebook metadata"]] == "metadata"
    assert where[by_location["notebook attachment (screenshot)"]].startswith("cell 1 attachment shot.png")


def test_excerpt_masks_fragments_and_binary() -> None:
    key = make_key(random.Random(1), "project")
    assert masked_excerpt(f"a={key[:100]}\n") == "a=[redacted]"  # cut off: not a finding, still hidden
    assert "\x00" not in masked_excerpt(f"\x00\x01{key}\x02")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                    *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def leaky_repo(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository where a key was committed, then deleted, and a second one sits on another branch."""
    repo = tmp_path / "repo"
    repo.mkdir()
    rng = random.Random(3)
    first, second = make_key(rng, "project"), make_key(rng, "service-account")
    _git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("print('hi')\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "start")
    (repo / "config.py").write_text(f"# settings\n\nKEY = '{first}'\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "oops")
    (repo / "config.py").unlink()
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "remove the key")
    _git(repo, "checkout", "-qb", "feature")
    (repo / "job.yaml").write_text(f"key: {second}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "job")
    _git(repo, "checkout", "-q", "main")
    return repo, first, second


def test_history_finds_deleted_files_and_other_branches(leaky_repo) -> None:
    repo, first, second = leaky_repo
    assert scan_paths([repo], repo) == []  # the working tree is clean
    findings = scan_history(repo)
    assert {(f.path, f.line, f.fingerprint) for f in findings} == {
        ("config.py", 3, fingerprint(first)), ("job.yaml", 1, fingerprint(second))}
    commits = subprocess.run(["git", "log", "--all", "--format=%H %s"], cwd=repo, capture_output=True,
                             text=True).stdout
    oops = next(line.split()[0] for line in commits.splitlines() if line.endswith(" oops"))
    assert next(f.commit for f in findings if f.path == "config.py") == oops[:12]


def test_cli_formats_and_exit_codes(leaky_repo, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    repo, first, second = leaky_repo
    monkeypatch.chdir(repo)
    assert main(["scan", "."]) == 0
    assert "no keys found" in capsys.readouterr().out

    assert main(["scan", ".", "--git-history"]) == 1
    text = capsys.readouterr().out
    assert "REAL KEY sk-proj-..." in text and "in commit" in text and "revoke" in text.lower()

    assert main(["scan", ".", "--git-history", "--format", "json"]) == 1
    out = capsys.readouterr().out
    data = json.loads(out)
    assert sorted(f["path"] for f in data["findings"]) == ["config.py", "job.yaml"]
    assert {"path", "line", "kind", "commit", "excerpt", "masked", "fingerprint"} <= set(data["findings"][0])
    (repo / "baseline.json").write_text(out)

    assert main(["scan", ".", "--git-history", "--format", "sarif"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"openai-api-key"}
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in results)

    for output in (text, out, json.dumps(sarif)):
        assert first[8:-4] not in output and second[11:-4] not in output

    assert main(["scan", ".", "--git-history", "--baseline", "baseline.json"]) == 0
    capsys.readouterr()


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "no-such-folder"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["scan", ".", "--git-history"]) == 2
    assert "not inside a git repository" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    assert main(["scan", ".", "--baseline", "bad.json"]) == 2
    assert "keylab scan --format json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["scan", "--format", "xml"])
    assert caught.value.code == 2


def test_include_sandbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = make_key(random.Random(5), "project", SANDBOX_MARKER)
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={key}\n")
    assert main(["scan", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["scan", str(tmp_path), "--include-sandbox"]) == 1
    out = capsys.readouterr().out
    assert "sandbox key" in out and "REAL" not in out and key[10:-4] not in out


def test_committed_files_hold_no_real_marker_next_to_a_key() -> None:
    """The course's own tree: sandbox keys and documentation only (CI also scans the history)."""
    root = Path(__file__).resolve().parents[1]
    assert [f for f in scan_paths([root / p for p in ("src", "tests", "notebooks", "solutions", "labs")], root)
            if f.kind == "real"] == []


def test_git_ignored_files_are_marked(leaky_repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo, first, second = leaky_repo
    (repo / ".gitignore").write_text(".env\n")
    (repo / ".env").write_text(f"OPENAI_API_KEY={first}\n")
    (repo / "notes.md").write_text(f"key: {second}\n")
    findings = {f.path: f.ignored for f in scan_paths([repo], repo)}
    assert findings == {".env": True, "notes.md": False}
    # As pre-commit calls it: the staged files' names.
    assert main(["scan", str(repo / "notes.md"), str(repo / "app.py")]) == 1
    out = capsys.readouterr().out
    assert "notes.md:1" in out and "git-ignored" not in out


def test_pre_commit_hook_definition() -> None:
    import yaml

    (hook,) = yaml.safe_load((Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "keylab-scan" and hook["entry"] == "keylab scan" and hook["language"] == "python"
    with pytest.raises(SystemExit) as caught:
        main([*hook["entry"].split()[1:], "--help"])
    assert caught.value.code == 0


@pytest.mark.parametrize("word", ["-your-key-here-", "_put-your-own_", "-example-key-"])
def test_a_real_key_whose_body_spells_a_placeholder_word_is_found(word: str) -> None:
    key = make_key(random.Random(9), "project")
    key = key[:20] + word + key[20 + len(word):]  # same published shape, placeholder words by chance
    assert spells_placeholder_words(key) and len(key) == len(make_key(random.Random(9), "project"))
    (hit,) = find_keys(f"OPENAI_API_KEY={key}")
    assert hit.kind == "real" and hit.fingerprint == fingerprint(key)


def test_placeholder_words_in_an_odd_shaped_string_are_decoys() -> None:
    assert find_keys("sk-your-key-here-0123456789abcdefGHIJ" + "T3Blbk" + "FJ" + "put-your-own-key-here-0123456789") == []


def test_hit_positions_span_exactly_the_key() -> None:
    key = make_key(random.Random(4), "admin")
    text = f"key={key}Zq\x00\x01"  # bytes that look like key characters after it (a PNG checksum)
    (hit,) = find_keys(text)
    assert text[hit.start:hit.end] == key and hit.prefix == "sk-admin-"


def test_notebook_metadata_after_the_cells_is_named_as_metadata(tmp_path: Path) -> None:
    import nbformat

    key = make_key(random.Random(6), "project")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)"),
                                         nbformat.v4.new_markdown_cell(f"key {key}")])
    nb.metadata["secrets"] = {"OPENAI_API_KEY": key}
    nbformat.write(nb, tmp_path / "n.ipynb")
    assert sorted(f.where for f in scan_paths([tmp_path], tmp_path)) == ["cell 2", "metadata"]


def test_a_key_re_added_in_a_later_commit_is_reported_once(leaky_repo) -> None:
    repo, first, _second = leaky_repo
    (repo / "config.py").write_text(f"KEY = '{first}'\n")  # put back, on another line
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "again")
    findings = [f for f in scan_history(repo, root=repo) if f.path == "config.py"]
    assert [(f.line, f.fingerprint) for f in findings] == [(3, fingerprint(first))]  # where it entered
    assert findings == [f for f in scan_history(repo) if f.path == "config.py"]


def test_a_key_in_a_binary_file_on_disk_is_found_masked(tmp_path: Path) -> None:
    key = make_key(random.Random(21), "project")
    (tmp_path / "shot.db").write_bytes(b"\x00\x01SQLite\x00\xff\xfe" + key.encode() + b"\x00\x9c\xff")
    (hit,) = scan_paths([tmp_path], tmp_path)
    assert (hit.path, hit.kind, hit.fingerprint) == ("shot.db", "real", fingerprint(key))
    assert key[12:-4] not in hit.excerpt and hit.excerpt.isprintable()


def test_files_over_the_size_limit_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keylab.scan import sources

    key = make_key(random.Random(22), "project")
    (tmp_path / "small.txt").write_text(f"{key}\n")
    (tmp_path / "big.txt").write_text(f"{key}\n" + "x" * 200)
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", len(key) + 50)
    assert [f.path for f in scan_paths([tmp_path], tmp_path)] == ["small.txt"]


def test_ignored_files_in_a_repository_below_a_plain_folder_are_marked(tmp_path: Path) -> None:
    repo = tmp_path / "projects" / "app"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text(".env\n")
    key = make_key(random.Random(23), "project")
    (repo / ".env").write_text(f"OPENAI_API_KEY={key}\n")
    (repo / "notes.md").write_text(f"{key}\n")
    found = {f.path: f.ignored for f in scan_paths([tmp_path / "projects"], tmp_path / "projects")}
    assert found == {"app/.env": True, "app/notes.md": False}


def test_an_sk_none_decoy_is_judged_on_its_body_alone() -> None:
    """`sk-None-` is a prefix like `sk-proj-`: its letters do not count towards the body's randomness."""
    from keylab.keys import REAL_MARKER
    from keylab.scan.detect import is_decoy

    typed = ("ABCDEFG" * 9)[:58]  # seven keys pressed in turn: far too regular for a key
    assert is_decoy("sk-None-" + typed + REAL_MARKER + typed, REAL_MARKER)

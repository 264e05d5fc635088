import json

from click.testing import CliRunner

from review.guidelines.cli import check_command, line_col
from review.guidelines.testing import GUIDELINES


def run(*args, input=None, env=None):
    return CliRunner().invoke(check_command, list(args), input=input, env=env)


def test_text_output_and_exit_code(tmp_path):
    f = tmp_path / "copy.txt"
    f.write_text("Hello.\nA R1SK-FREE plan, a cheap one.\n", encoding="utf-8")
    r = run("--brand", "harbor-mutual", "--guidelines-dir", str(GUIDELINES), str(f))
    assert r.exit_code == 1
    assert r.output.splitlines() == [
        f"{f}:2:3 warning _base.shouting Don't shout: write 'R1SK-FREE' in normal case.",
        f"{f}:2:3 error _base.unapproved-claims Unapproved claim 'R1SK-FREE': no active claim in the claims library matches.",
        f"{f}:2:3 warning harbor-mutual.no-risk-free Use 'LOW-RISK' instead of 'R1SK-FREE'.",
        f"{f}:2:21 warning harbor-mutual.no-risk-free Use 'affordable' instead of 'cheap'.",
    ]


def test_stdin_clean_is_zero():
    r = run("--brand", "northbank", "--guidelines-dir", str(GUIDELINES), input="Thanks for being with us for 5 years, Maria.")
    assert (r.exit_code, r.output) == (0, "")


def test_env_default_dir_json_and_complete(monkeypatch):
    monkeypatch.setenv("COUNTERSIGN_GUIDELINES_DIR", str(GUIDELINES))
    r = run("--brand", "vitalis-pharma", "--format", "json", "--complete", "-", input="Hello there.")
    data = json.loads(r.output)
    assert r.exit_code == 1
    assert [(d["file"], d["line"], d["column"], d["rule"], d["level"]) for d in data] == [("<stdin>", 1, 1, "vitalis-pharma.disclaimer-1", "error")]


def test_load_error_is_two(tmp_path):
    (tmp_path / "b" / "rules").mkdir(parents=True)
    (tmp_path / "b" / "rules" / "x.yaml").write_text("extends: nope\n")
    r = run("--brand", "b", "--guidelines-dir", str(tmp_path), input="x")
    assert r.exit_code == 2 and "x.yaml:1: unknown rule type 'nope'" in r.output


def test_line_col():
    assert [line_col("ab\ncd", i) for i in (0, 1, 3, 4)] == [(1, 1), (1, 2), (2, 1), (2, 2)]

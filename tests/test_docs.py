"""The README tells the truth about the rules and commands."""

from click.testing import CliRunner

from tests.conftest import REPO
from tunelint.cli import main


def test_readme_rule_table_matches_the_registry():
    table = CliRunner().invoke(main, ["rules", "--format", "markdown"]).output.strip()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert table in readme, "regenerate with `tunelint rules --format markdown`"


def test_readme_profile_table_matches_the_profiles():
    table = CliRunner().invoke(main, ["profiles", "--format", "markdown"]).output.strip()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert table in readme, "regenerate with `tunelint profiles --format markdown`"


def test_readme_names_only_commands_that_exist():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for cmd in ("check", "rule", "rules", "profiles", "convert"):
        assert f"tunelint {cmd}" in readme
        assert CliRunner().invoke(main, [cmd, "--help"]).exit_code == 0


def test_every_rule_has_documentation_with_a_reason():
    from tunelint.linter.rule import all_rules

    for r in all_rules():
        assert r.doc and len(r.doc) > 40, r.code
        assert r.name == r.name.lower() and " " not in r.name


def test_readme_lists_every_option_of_tunelint_train():
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    help_text = CliRunner().invoke(main, ["train", "--help"]).output
    options = set(re.findall(r"(--[a-z][a-z-]+)", help_text)) - {"--help"}
    assert options and not {o for o in options if o not in readme}, "README's Fine-tuning options"


def test_readme_lists_every_option_of_the_model_and_run_commands():
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for cmd in (["export"], ["serve"], ["runs"], ["runs", "compare"], ["profiles"]):
        help_text = CliRunner().invoke(main, [*cmd, "--help"]).output
        options = set(re.findall(r"(--[a-z][a-z-]+)", help_text)) - {"--help"}
        assert not {o for o in options if o not in readme}, f"README's section on tunelint {' '.join(cmd)}"


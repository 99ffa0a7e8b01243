"""pyproject.toml, environment.yml and binder/ list the same dependencies; the pip part installs."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~; \[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_deps():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def env_pip_part():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip) == 1, "environment.yml needs exactly one pip: section"
    return pip[0]["pip"]


def test_environment_matches_pyproject():
    reqs = [r for r in env_pip_part() if not r.startswith("-e")]
    assert sorted(reqs) == sorted(pyproject_deps())
    assert "-e ." in env_pip_part(), "environment.yml must install the package itself"
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert any(str(d).startswith("python") for d in env["dependencies"])


def binder_requirements() -> list[str]:
    """The requirement lines of binder/requirements.txt (no comments or pip options)."""
    return [
        line.strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    ]


def repository_url() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def test_binder_matches_pyproject():
    """Binder serves the dashboard, so it needs the core and the dashboard extra."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    extra = extras["dashboard"] + extras["scalebar"]
    assert sorted(binder_requirements()) == sorted(pyproject_deps() + extra)


def test_binder_and_environment_list_the_same_dependencies():
    """binder/ and environment.yml install the same packages (Binder adds the dashboard extra)."""
    env = {_name(r) for r in env_pip_part() if not r.startswith("-e")}
    binder = {_name(r) for r in binder_requirements()}
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    extra = {_name(r) for r in extras["dashboard"] + extras["scalebar"]}
    assert binder - extra == env, f"only in binder: {binder - extra - env}; only in environment.yml: {env - binder}"
    assert sorted(r for r in binder_requirements() if _name(r) in env) == sorted(
        r for r in env_pip_part() if not r.startswith("-e")), "versions differ between binder/ and environment.yml"


def test_binder_installs_the_package_and_fetches_data():
    """repo2docker does not install the package by itself when binder/ exists."""
    post = (ROOT / "binder" / "postBuild").read_text()
    assert post.startswith("#!") and "set -e" in post
    assert re.search(r"pip install .*-e \.", post)
    assert "load_model(pretrained=True" in post and "fetch_emps(" in post
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    req = (ROOT / "binder" / "requirements.txt").read_text()
    assert "download.pytorch.org/whl/cpu" in req, "Binder must get the CPU build of torch"


def test_readme_has_binder_and_colab_badges_for_every_notebook():
    readme = (ROOT / "README.md").read_text()
    owner_repo = repository_url().removeprefix("https://github.com/")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        rel = f"notebooks/{path.name}"
        assert f"https://colab.research.google.com/github/{owner_repo}/blob/main/{rel}" in readme, rel
        if path.name == "dashboard.ipynb":
            assert f"https://mybinder.org/v2/gh/{owner_repo}/HEAD?urlpath=voila/render/{rel}" in readme
        else:
            assert f"https://mybinder.org/v2/gh/{owner_repo}/HEAD?labpath={rel}" in readme, rel


def test_environment_pip_part_installs(tmp_path):
    """pip accepts the requirements and finds them all satisfied here (no index needed)."""
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("\n".join(r for r in env_pip_part() if not r.startswith("-e")) + "\n")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "-r", str(reqs)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Would install" not in out.stdout, out.stdout


def test_public_api_without_widgets():
    code = (
        "import sys, bpartis_nb; "
        "assert {'load_model', 'segment'} <= set(bpartis_nb.__all__); "
        "[getattr(bpartis_nb, n) for n in bpartis_nb.__all__]; "
        "bad = [m for m in ('ipywidgets', 'voila', 'IPython') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("extra", ["scalebar", "formats"])
def test_extras_install_and_work(tmp_path, extra):
    """`make install` installed the extra from the registry: pip finds it satisfied, and it works."""
    reqs = tmp_path / "reqs.txt"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    reqs.write_text("\n".join(extras[extra]) + "\n")
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "-r", str(reqs)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "Would install" not in out.stdout, out.stdout + out.stderr[-2000:]
    check = {"scalebar": "from bpartis_nb.calibration.ocr import ocr_available; assert ocr_available()",
             "formats": "import rsciio.digitalmicrograph, h5py"}[extra]
    subprocess.run([sys.executable, "-c", check], check=True, timeout=300)

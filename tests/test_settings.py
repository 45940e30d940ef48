"""One settings module (the only reader of AELAB_* variables), one cache-key scheme, strict JSON."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from aelab import settings
from aelab.cache import cache_folder, cache_key, canonical_json
from aelab.errors import UnknownName, UsageError
from aelab.fileio import NON_FINITE, to_json, write_json_atomic

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "aelab"


def strict_loads(text: str):
    """A strict JSON parser: NaN, Infinity and -Infinity are refused."""
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


# ----------------------------------------------------------------------------- settings

def test_settings_are_read_at_call_time_with_defaults(monkeypatch, tmp_path):
    for name in settings.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings.data_root() == tmp_path / "xdg" / "aelab"
    assert settings.cache_root() == tmp_path / "xdg" / "aelab"
    assert settings.device() == "auto" and settings.threads() is None and settings.downloads_allowed()
    assert settings.lab_scale() == "teach" and settings.lab_threads() == 1
    monkeypatch.setenv("AELAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AELAB_DEVICE", "cuda:1")
    monkeypatch.setenv("AELAB_THREADS", "3")
    monkeypatch.setenv("AELAB_NO_DOWNLOAD", "1")
    monkeypatch.setenv("AELAB_LAB_SCALE", "Smoke")
    monkeypatch.setenv("AELAB_LAB_THREADS", "2")
    assert settings.data_root() == tmp_path / "data" and settings.cache_root() == tmp_path / "cache"
    assert settings.device() == "cuda:1" and settings.threads() == 3 and not settings.downloads_allowed()
    assert settings.lab_scale() == "smoke" and settings.lab_threads() == 2
    monkeypatch.setenv("AELAB_NO_DOWNLOAD", "0")
    assert settings.downloads_allowed()


def test_the_cache_root_follows_xdg_and_has_one_folder_per_use(monkeypatch, tmp_path):
    monkeypatch.delenv("AELAB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert settings.cache_dir("generated") == tmp_path / "aelab" / "generated"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert settings.cache_dir("lab") == Path.home() / ".cache" / "aelab" / "lab"
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "c"))
    assert [settings.cache_dir(use) for use in settings.CACHE_USES] == [tmp_path / "c" / use
                                                                        for use in ("generated", "lab", "models")]
    with pytest.raises(ValueError, match="generated, lab, models"):
        settings.cache_dir("misc")


@pytest.mark.parametrize("name, value, getter, message", [
    ("AELAB_THREADS", "x", settings.threads, "AELAB_THREADS must be a positive integer, got 'x'"),
    ("AELAB_THREADS", "0", settings.threads, "AELAB_THREADS must be a positive integer, got '0'"),
    ("AELAB_LAB_THREADS", "-2", settings.lab_threads, "AELAB_LAB_THREADS must be a positive integer, got '-2'"),
    ("AELAB_DEVICE", "tpu", settings.device, "AELAB_DEVICE must be one of auto, cpu, cuda, cuda:N, mps, got 'tpu'"),
    ("AELAB_DEVICE", "cpu:1", settings.device, "AELAB_DEVICE must be one of"),
    ("AELAB_NO_DOWNLOAD", "maybe", settings.downloads_allowed, "AELAB_NO_DOWNLOAD must be 1"),
    ("AELAB_LAB_SCALE", "huge", settings.lab_scale, "AELAB_LAB_SCALE must be one of smoke, teach, got 'huge'"),
])
def test_a_bad_value_is_a_one_line_error_naming_the_variable(monkeypatch, name, value, getter, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError) as err:
        getter()
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_only_settings_reads_the_environment():
    readers = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "settings.py" and path.parent == PACKAGE:
            continue
        text = path.read_text()
        if re.search(r"os\.environ|os\.getenv|getenv\(|environ\[", text):
            readers.append(str(path.relative_to(REPO)))
        for hook in ("AELAB_LAB_SYNC", "AELAB_CHROMIUM", "AELAB_REQUIRE_BROWSER", "AELAB_NOTEBOOKS"):
            if hook in text:
                readers.append(f"{path.relative_to(REPO)} mentions {hook}")
    assert readers == []
    assert not (PACKAGE / "widgets" / "browser.py").exists()  # the browser driver is a test helper


def test_settings_imports_nothing_from_aelab():
    text = (PACKAGE / "settings.py").read_text()
    assert not re.search(r"^\s*(from aelab|import aelab)", text, re.MULTILINE)


def test_the_readme_lists_exactly_the_variables_settings_reads():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    table = re.findall(r"^\| `(AELAB_[A-Z_]+)` \|", section, re.MULTILINE)
    assert table == list(settings.VARIABLES)
    source = (PACKAGE / "settings.py").read_text()
    assert set(re.findall(r'"(AELAB_[A-Z_]+)"', source)) == set(settings.VARIABLES)


def test_generated_sets_go_to_the_cache_never_into_the_data_root(monkeypatch, tmp_path):
    from aelab import data

    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.delenv("AELAB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = data.prepare("rectangles", root=root)
    assert path == tmp_path / "xdg" / "aelab" / "generated" / "rectangles-seed0-v1.npz" and path.exists()
    assert list(root.iterdir()) == []
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "cache"))
    assert data.status("rectangles", root=root) == ("missing", str(tmp_path / "cache" / "generated" /
                                                                   "rectangles-seed0-v1.npz"))


# ----------------------------------------------------------------------------- errors

def test_usage_errors_are_value_errors_and_unknown_names_key_errors():
    from aelab import data
    from aelab.models.spec import SpecError

    assert issubclass(UsageError, ValueError) and issubclass(UnknownName, (UsageError, KeyError))
    assert issubclass(data.DataError, UsageError) and issubclass(SpecError, UsageError)
    assert issubclass(data.DatasetNotFound, FileNotFoundError)
    with pytest.raises(UnknownName) as err:
        data.load("mnist-fancy")
    assert str(err.value).startswith("unknown dataset 'mnist-fancy'")  # no KeyError quotes
    with pytest.raises(UsageError, match="masking level"):
        data.check_noise("masking", 2.0)


# ----------------------------------------------------------------------------- cache keys

@dataclass(frozen=True)
class Cfg:
    hidden: int = 8
    levels: tuple = (0.0, 0.5)


def test_cache_key_is_one_canonical_hash():
    key = cache_key(Cfg())
    assert re.fullmatch(r"[0-9a-f]{20}", key)
    assert key == cache_key({"levels": [0.0, 0.5], "hidden": 8})  # dataclass == dict, tuple == list, any order
    assert key == cache_key({"hidden": np.int64(8), "levels": np.array([0.0, 0.5])})
    assert key != cache_key(Cfg(hidden=9)) and key != cache_key(Cfg(levels=(0.0, 0.25)))
    assert canonical_json({"b": 1, "a": (1, 2)}) == '{"a":[1,2],"b":1}'


def test_cache_folders_live_under_the_cache_root(monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path))
    assert cache_folder("models", "classifiers", Cfg()) == tmp_path / "models" / "classifiers" / cache_key(Cfg())


def test_no_other_hashing_scheme_in_the_package():
    for path in PACKAGE.rglob("*.py"):
        if "hashlib" in path.read_text() and path.name != "cache.py":
            # only checksums of downloaded files against their official values
            # and the zoo's sha256 of its shipped files (a manifest, not a cache key)
            assert path.relative_to(PACKAGE).as_posix() in ("data/mnist.py", "data/natural.py", "experiments/zoo.py"), path


# ----------------------------------------------------------------------------- strict JSON

def test_results_are_strict_json_with_non_finite_values_noted(tmp_path):
    record = {"metrics": {"error": float("nan"), "curve": [1.0, float("inf"), np.float32("-inf")],
                          "ok": np.float64(0.5), "array": np.array([np.nan, 2.0])}, "seconds": 1.0}
    path = write_json_atomic(tmp_path / "result.json", record)
    with pytest.raises(ValueError, match="non-strict"):
        strict_loads('{"a": NaN}')  # the parser used below does refuse NaN
    written = strict_loads(path.read_text())
    assert written["metrics"] == {"error": None, "curve": [1.0, None, None], "ok": 0.5, "array": [None, 2.0]}
    assert written[NON_FINITE] == ["metrics.error", "metrics.curve[1]", "metrics.curve[2]", "metrics.array[0]"]
    assert NON_FINITE not in strict_loads(to_json({"a": 1.0}))
    again = strict_loads(to_json({**written, "more": float("nan")}))  # notes accumulate, no duplicates
    assert again[NON_FINITE] == [*written[NON_FINITE], "more"]
    with pytest.raises(ValueError, match="non-finite"):
        to_json([float("nan")])  # no place for the note: refused, not written loosely

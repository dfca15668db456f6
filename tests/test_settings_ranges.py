"""Every numeric setting has a range, and a value outside it is exit 2 naming the key and the
range (issue 17: ``translate.batch_tokens = -3`` was accepted and made 86 requests instead
of 4).  The settings are enumerated from the model: a new numeric setting without a range
fails here."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.settings import Settings, allowed_range, load_settings
from tests.paths import FIXTURES


def _numeric(annotation: Any) -> bool:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is not None and args and typing.get_origin(annotation) is not dict:
        return all(_numeric(a) for a in args)  # Optional[int], int | float
    return annotation in (int, float)


def _unannotated(annotation: Any) -> Any:
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


def numeric_settings(model: type[BaseModel] = Settings, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, kind) of every numeric setting: "scalar", or "dict" for a mapping of numbers."""
    out: list[tuple[str, str]] = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        key = prefix + name
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.extend(numeric_settings(ann, key + "."))
        elif typing.get_origin(ann) is dict and _numeric(_unannotated(typing.get_args(ann)[1])):
            out.append((key, "dict"))
        elif _numeric(ann):
            out.append((key, "scalar"))
    return out


NUMERIC = numeric_settings()


def test_the_settings_have_numeric_fields_to_check() -> None:
    keys = {k for k, _ in NUMERIC}
    assert {"translate.batch_tokens", "llm.concurrency", "search.weights_en", "ask.min_relevance"} <= keys


@pytest.mark.parametrize(("key", "kind"), NUMERIC)
def test_every_numeric_setting_has_a_range(key: str, kind: str) -> None:
    loc = key.split(".") + (["dense"] if kind == "dict" else [])
    rng = allowed_range(loc)
    assert rng is not None and "<" in rng.split("value")[0] and "<" in rng.split("value")[1], (key, rng)


def _bounds(key: str, kind: str) -> tuple[float, float]:
    rng = allowed_range(key.split(".") + (["dense"] if kind == "dict" else []))
    assert rng is not None
    lo, hi = rng.split("value")
    return float(lo.split()[0]), float(hi.split()[-1])


def _env_name(key: str) -> str:
    return "DIGEST_" + key.upper().replace(".", "__")


@pytest.mark.parametrize(("key", "kind"), NUMERIC)
def test_a_value_outside_the_range_names_the_key_and_the_range(
    key: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lo, hi = _bounds(key, kind)
    for bad in (lo - 1, hi * 10 + 1):
        value: Any = int(bad) if float(bad).is_integer() else bad
        env = f'{{"dense": {value}}}' if kind == "dict" else str(value)
        monkeypatch.setenv(_env_name(key), env)
        with pytest.raises(ConfigError) as info:
            load_settings()
        message = str(info.value)
        where = key + (".dense" if kind == "dict" else "")
        assert f"{where}: out of range; allowed: " in message, message
        assert str(int(hi) if float(hi).is_integer() else hi) in message


def test_negative_batch_tokens_in_digest_toml_is_exit_2(tmp_path: Path) -> None:
    toml = tmp_path / "digest.toml"
    toml.write_text("[translate]\nbatch_tokens = -3\n", encoding="utf-8")
    out = tmp_path / "out"
    assert (
        CliRunner()
        .invoke(main, ["parse", str(FIXTURES / "translate_digest.md"), "--out", str(out)])
        .exit_code
        == 0
    )
    result = CliRunner().invoke(
        main,
        ["translate", "--llm", "mock", "--config", str(toml), "--out", str(out)],
        env={"DIGEST_PROGRESS": "off"},
    )
    assert result.exit_code == 2, result.output
    assert "translate.batch_tokens: out of range; allowed: 1 <= value <= 1000000" in result.output
    assert not (out / "translations.jsonl").exists()


def test_a_flag_out_of_range_is_exit_2_too() -> None:
    result = CliRunner().invoke(main, ["config", "--concurrency", "0"])
    assert result.exit_code == 2
    assert "llm.concurrency: out of range; allowed: 1 <= value <= 256" in result.output


def test_values_inside_the_range_are_accepted() -> None:
    s = load_settings(translate={"batch_tokens": 1}, llm={"temperature": 2, "max_retries": 0})
    assert s.translate.batch_tokens == 1 and s.llm.temperature == 2

"""The project's settings: one typed object, the only reader of ``os.environ`` (but ``ani.llm.providers``).

Sources, highest first: arguments given to :func:`load_settings`, the
environment (``ANI_*``), the project file ``ani.toml`` in the working
directory, then the defaults below.

=====================  ==============================  ==================================================
variable               field                           meaning (default)
=====================  ==============================  ==================================================
``ANI_CACHE_DIR``      ``cache_dir``                   compiled template programs (``~/.cache/ani``)
``ANI_CXX`` / ``CXX``  ``cxx``                         the C++ compiler (``g++``)
``ANI_TOPOLOGY_ZOO``   ``topology_zoo``                Topology Zoo GraphML files named by ``ani evaluate
                                                       --networks`` (``../shared/data/topologyzoo``)
=====================  ==============================  ==================================================

The LLM endpoint (``ANI_LLM_PROVIDER``, ``ANI_LLM_MODEL``, ``ANI_LLM_BASE_URL``,
``ANI_LLM_API_KEY``) is still read by :class:`ani.llm.providers.LLMSettings`.
It lives in ``kg``, the bottom layer, because every layer needs a setting: the
build cache and compiler (``ns3_scenarios``), the data folders (``orchestrator``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from ani.kg.errors import SettingsError

PROJECT_FILE = "ani.toml"
SOURCE_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Where things are and which tools to use (module docstring: sources and variables)."""

    model_config = SettingsConfigDict(env_prefix="ANI_", extra="ignore", frozen=True, toml_file=PROJECT_FILE)

    cache_dir: Path = Field(default=Path.home() / ".cache" / "ani", description="compiled programs")
    cxx: str = Field(default="g++", validation_alias=AliasChoices("ANI_CXX", "CXX", "cxx"),
                     description="the C++ compiler")
    topology_zoo: Path = Field(default=SOURCE_ROOT.parent / "shared" / "data" / "topologyzoo",
                               description="folder of Topology Zoo GraphML files")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then ``ani.toml``."""
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


def load_settings(**arguments: Any) -> Settings:
    """The settings now: ``arguments`` (None = not given) over the environment over ``ani.toml``.

    Raises
    ------
    SettingsError
        For an unreadable ``ani.toml`` or an invalid value (named).
    """
    try:
        return Settings(**{k: v for k, v in arguments.items() if v is not None})
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{PROJECT_FILE}: not valid TOML ({exc})") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid setting: {problems}") from exc

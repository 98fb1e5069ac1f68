"""The project's settings: one typed object, the only reader of ``os.environ``.

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
``ANI_LLM_PROVIDER``    ``llm_provider``                the chat model's provider for ``--generator llm``
                                                       (``smollm2``; see ``ani.llm.providers``)
``ANI_LLM_MODEL``       ``llm_model``                   model name (ollama/openai) or GGUF path (llamacpp)
``ANI_LLM_BASE_URL``    ``llm_base_url``                the server's URL (ollama/openai)
``ANI_LLM_STRUCTURED_OUTPUT`` ``llm_structured_output`` openai: the structured-output form (``auto``)
``ANI_LLM_API_KEY`` /   ``llm_api_key``                 the server's API key (never printed)
``OPENAI_API_KEY``
=====================  ==============================  ==================================================

Empty variables count as unset. :meth:`ani.llm.providers.LLMSettings.resolve` takes the
``llm_*`` fields below its own arguments and validates them. This module lives in ``kg``, the bottom layer, because every layer needs a setting: the
build cache and compiler (``ns3_scenarios``), the data folders (``orchestrator``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from ani.kg.errors import SettingsError

PROJECT_FILE = "ani.toml"
SOURCE_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Where things are and which tools to use (module docstring: sources and variables)."""

    model_config = SettingsConfigDict(env_prefix="ANI_", extra="ignore", frozen=True, toml_file=PROJECT_FILE,
                                      env_ignore_empty=True)

    cache_dir: Path = Field(default=Path.home() / ".cache" / "ani", description="compiled programs")
    cxx: str = Field(default="g++", validation_alias=AliasChoices("ANI_CXX", "CXX", "cxx"),
                     description="the C++ compiler")
    topology_zoo: Path = Field(default=SOURCE_ROOT.parent / "shared" / "data" / "topologyzoo",
                               description="folder of Topology Zoo GraphML files")
    llm_provider: str | None = Field(default=None, description="chat model provider (validated by the llm layer)")
    llm_model: str | None = Field(default=None, description="model name or GGUF path")
    llm_base_url: str | None = Field(default=None, description="the chat server's URL")
    llm_structured_output: str | None = Field(default=None, description="openai: structured-output form")
    llm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANI_LLM_API_KEY", "OPENAI_API_KEY", "llm_api_key"),
        description="the chat server's API key")

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

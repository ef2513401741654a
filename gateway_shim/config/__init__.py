"""The policy configuration: one YAML document, validated into typed objects."""

from gateway_shim.config.loader import ConfigError, default_config_path, load_config, parse_config
from gateway_shim.config.models import Config

__all__ = ["Config", "ConfigError", "default_config_path", "load_config", "parse_config"]

"""Settings: loaded once at boot from the environment (and an optional YAML file), validated, frozen."""

from config.secret import Secret
from config.settings import ChannelPolicy, Settings, load_settings

__all__ = ["ChannelPolicy", "Secret", "Settings", "load_settings"]

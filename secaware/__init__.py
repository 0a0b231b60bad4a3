"""secaware: security situational awareness for the government networks of Gansu Province."""

__version__ = "0.1.0"

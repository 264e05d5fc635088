"""Countersign's domain core. Never imports Streamlit: the app and the CLI are thin shells."""

__version__ = "0.1.0"

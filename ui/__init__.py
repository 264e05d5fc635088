"""The Streamlit shell of Countersign: pages and small components. The domain lives in `review/`."""

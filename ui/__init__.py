"""Streamlit helpers shared by the dashboard pages: cached access to core, common widgets."""

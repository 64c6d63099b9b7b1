"""Figures (one Plotly layer), the HTML report and the slide deck."""

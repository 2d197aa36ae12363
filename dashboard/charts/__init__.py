"""Report section -> plotly figure, one module per area. Pure functions: no streamlit, no computation.

Every function takes a finished report object (or part of one) and only draws what it
holds; a figure never shows a number the report does not contain. ``base`` holds the
palette, the metric display names and the layout the area modules share;
``tests/test_charts.py`` checks the drawn values against the report and that the
package imports without streamlit.
"""

"""The learning engine: pure scikit-learn and numpy, no Django imports.

It takes lists of texts and labels and returns fitted objects, predictions and metrics,
so it can be tested and benchmarked alone. Offsets inside the engine are always in
Unicode code points (Python ``str`` indices); ``offsets`` converts at the edges.
"""

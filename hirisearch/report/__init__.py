"""Presentation, in two places with one boundary between them:

- :mod:`hirisearch.report.terminal`: what a command prints (Rich tables and lines), pure functions
  of the results the operations return;
- :mod:`hirisearch.report.run`: the run folder (``results.json`` and the CSV, Markdown, HTML and
  plots derived from it alone), written by :func:`hirisearch.report.run.save.save_run`.

Both format numbers with :mod:`hirisearch.report.format`; :mod:`hirisearch.report.plots` draws the
figures (the run folder's, and ``compare --plot``).
"""

"""The run folder: ``results.json``, the source of truth, and what is derived from it alone
(``results.csv``, ``report.md``, ``report.html``, ``plots/``).

- :mod:`.save`: :func:`~.save.save_run`, the one function that writes a run folder from a
  result (commands and API alike), and :func:`~.save.regenerate`;
- :mod:`.schema`: the ``results.json`` envelope and its validation;
- :mod:`.document`: a report as data (sections of tables and figures) and its Markdown and HTML;
- :mod:`.kinds`: the registry of report kinds, one module each (:mod:`.profile` for ``profile``
  and ``compare``, :mod:`.sweep`, :mod:`.bench`, :mod:`.search`): the schema of its documents,
  its report and its CSV rows; :mod:`.base` is what they share.
"""

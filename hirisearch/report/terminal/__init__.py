"""What the commands print: Rich tables and lines as pure functions of results, one module per
command (:mod:`.profile`, :mod:`.compare`, :mod:`.sweep`, :mod:`.bench` with ``calibrate``,
:mod:`.search`). Every table reads well at 80 columns, the width Rich uses for a pipe or a log,
and uses the width it is given (:mod:`.fit`). The run folder's reports are
:mod:`hirisearch.report.run`.
"""

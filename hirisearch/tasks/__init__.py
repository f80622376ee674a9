"""Task models: a backbone in dense form under a neck and a head (detection, segmentation).

- :mod:`.pyramid`: :class:`Level` and ``Pyramid``, what a dense backbone outputs;
- :mod:`.parts`: the registry :data:`PARTS` of necks and heads (one module per part);
- :mod:`.presets`: the registry :data:`PRESETS` of tasks (``--task PRESET``);
- :mod:`.model`: :func:`plan_task`, :func:`cost_task`, and the module ``TaskModel``
  (``model_nn.py``) whose children ``backbone``, ``neck``, ``head`` are the cost tree's.

Nothing here but the ``*_nn`` modules imports torch.
"""

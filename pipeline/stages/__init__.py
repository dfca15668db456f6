"""The pipeline's stages: parse -> translate -> enrich -> index -> newsletter, each a
subpackage with one entry function (``<stage>_stage(settings, ...) -> Report``) and the
shared contract in ``base.py``; ``run.py`` chains them."""

PIPELINE = ("parse", "translate", "enrich", "index", "newsletter")

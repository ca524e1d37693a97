"""The offline demo of ``make run``: a live stream made on this machine (``broadcast``), served
in development only (``views``), captioned from its own audio by the caption worker."""

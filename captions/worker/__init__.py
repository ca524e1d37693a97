"""Captions from a stream's own audio: ``manage.py caption_worker``.

``runner`` finds the streams to caption and takes each one's captioning lease; ``captioner``
captions one stream while it holds the lease; ``follow`` reads its live HLS playlist
(``playlist``, ``source``: with a playback token when private); ``decode`` turns segments into
16 kHz mono PCM with PyAV; ``session`` places that audio on the stream's own clock.
"""

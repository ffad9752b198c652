"""Retrieval and scoring: the KB index (BM25 + MiniLM), the confidence features, the calibrator, labelled
history, and the scorer that ties them to the stored KB (``prefilter -> retrieve -> score -> ...``)."""
